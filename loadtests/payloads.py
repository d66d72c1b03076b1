"""Request bodies for load tests and benchmarks, built once from photos insightface ships.

- ``t1.jpg`` (1280 x 886, six faces) at full size, at 640 px, and a crop with two faces;
- ``Tom_Hanks_54745.png`` (one face) at its own size and upscaled to 1024 px;
- galleries of random unit rows (512-d) with the target planted at known rows.
"""

from __future__ import annotations

import base64
import importlib.util
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

EMBEDDING_DIM = 512


def insightface_images_dir() -> Path:
    spec = importlib.util.find_spec("insightface")
    if spec is None or spec.origin is None:
        raise RuntimeError("insightface is not installed; its data images are the test photos")
    return Path(spec.origin).parent / "data" / "images"


def _load(name: str) -> Image.Image:
    return Image.open(insightface_images_dir() / name).convert("RGB")


def _resize_long_side(image: Image.Image, side: int) -> Image.Image:
    scale = side / max(image.size)
    return image.resize(
        (round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR
    )


def encode_jpeg(image: Image.Image, quality: int = 90) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


@dataclass(frozen=True)
class ImageCase:
    name: str
    b64: str
    width: int
    height: int
    faces: int  # faces in the photo (what a real detector finds)


@lru_cache(maxsize=1)
def image_cases() -> tuple[ImageCase, ...]:
    """Several sizes and face counts; JPEG-encoded once."""
    group = _load("t1.jpg")
    single = _load("Tom_Hanks_54745.png")
    made = [
        ("group_1280_6faces", group, 6),
        ("group_640_6faces", _resize_long_side(group, 640), 6),
        ("group_crop_2faces", group.crop((0, 100, 560, 700)), 2),
        ("single_native_1face", single, 1),
        ("single_1024_1face", _resize_long_side(single, 1024), 1),
    ]
    return tuple(ImageCase(n, encode_jpeg(im), im.width, im.height, f) for n, im, f in made)


def image_case(name: str) -> ImageCase:
    for case in image_cases():
        if case.name == name:
            return case
    raise KeyError(f"no image case {name!r}; known: {[c.name for c in image_cases()]}")


def analyze_body(case: ImageCase, **options: Any) -> dict[str, Any]:
    return {"image_data": case.b64, **options}


def batch_body(cases: list[ImageCase], **options: Any) -> dict[str, Any]:
    return {"images": [c.b64 for c in cases], **options}


def unit_rows(n: int, dim: int = EMBEDDING_DIM, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows


@dataclass(frozen=True)
class Gallery:
    rows: np.ndarray
    target: np.ndarray

    @property
    def size(self) -> int:
        return int(self.rows.shape[0])

    def float_body(self, threshold: float = 0.5, top_k: int | None = 10) -> dict[str, Any]:
        body: dict[str, Any] = {
            "target_embedding": self.target.tolist(),
            "embeddings": self.rows.tolist(),
            "threshold": threshold,
        }
        if top_k is not None:
            body["top_k"] = top_k
        return body

    def b64_body(self, threshold: float = 0.5, top_k: int | None = 10) -> dict[str, Any]:
        """The compact form: the target and one N x dim float32 blob."""
        body: dict[str, Any] = {
            "target_embedding_b64": b64_floats(self.target),
            "embeddings_b64": b64_floats(self.rows),
            "dim": int(self.rows.shape[1]),
            "threshold": threshold,
        }
        if top_k is not None:
            body["top_k"] = top_k
        return body


def b64_floats(values: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f4").tobytes()).decode("ascii")


def gallery(n: int, dim: int = EMBEDDING_DIM, seed: int = 0, planted: int = 5) -> Gallery:
    """``n`` random unit rows; ``planted`` of them are near copies of the target, so a
    threshold of 0.5 matches a handful of rows (like a real gallery with a few sightings)."""
    rng = np.random.default_rng(seed + 1)
    rows = unit_rows(n, dim, seed)
    target = unit_rows(1, dim, seed + 2)[0]
    for i in rng.choice(n, size=min(planted, n), replace=False):
        near = target + 0.3 * rows[i]
        rows[i] = near / np.linalg.norm(near)
    return Gallery(rows=rows, target=target)


def compare_body(seed: int = 0) -> dict[str, Any]:
    a, b = unit_rows(2, EMBEDDING_DIM, seed)
    return {"face1_embedding": a.tolist(), "face2_embedding": b.tolist()}
