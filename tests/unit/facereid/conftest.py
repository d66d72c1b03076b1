"""Fixtures shared by the CLIP tests: one tiny synthetic CLIP pack per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from facereid.emotion.clip_model import ClipBundle, load_clip
from models.synth.clip import write_clip_pack


@pytest.fixture(scope="session")
def pack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("clip") / "facereid-clip"
    write_clip_pack(dest, seed=0, profile="tiny")
    return dest


@pytest.fixture(scope="session")
def bundle(pack_dir: Path) -> ClipBundle:
    return load_clip(pack_dir, device="cpu")
