"""Fixtures shared by the CLIP tests: one tiny synthetic CLIP checkpoint per session, and its
ONNX export (what the store holds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from facereid.emotion.clip_model import ClipBundle, load_clip
from models.clip_export import export_clip
from models.synth.clip import write_clip_pack


@pytest.fixture(scope="session")
def checkpoint_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny synthetic open_clip checkpoint folder (config + safetensors)."""
    dest = tmp_path_factory.mktemp("clip") / "checkpoint"
    write_clip_pack(dest, seed=0, profile="tiny")
    return dest


@pytest.fixture(scope="session")
def pack_dir(checkpoint_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Its ONNX export: the store folder the emotion service loads."""
    dest = tmp_path_factory.mktemp("clip") / "facereid-clip"
    export_clip(checkpoint_dir, dest, "a bug in the test fixture")
    return dest


@pytest.fixture(scope="session")
def bundle(pack_dir: Path) -> ClipBundle:
    return load_clip(pack_dir, device="cpu")
