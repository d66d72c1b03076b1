"""Request bodies built from photos that packages ship."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
from PIL import Image


def b64_file(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def b64_array(rgb: np.ndarray, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format=fmt)
    return base64.b64encode(buffer.getvalue()).decode()


def b64_flat(width: int, height: int, value: int = 128, fmt: str = "PNG") -> str:
    return b64_array(np.full((height, width, 3), value, np.uint8), fmt)
