"""Shared fixtures: photos that packages ship, the shared real test data, a temporary
BentoML store."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_FACES = REPO_ROOT.parent / "shared" / "testdata" / "faces"


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.submodule_search_locations, f"{name} is not installed"
    return Path(next(iter(spec.submodule_search_locations)))


@pytest.fixture(scope="session")
def t1_path() -> Path:
    """insightface's t1.jpg: a real group photo with six faces, shipped in its wheel."""
    return _package_dir("insightface") / "data" / "images" / "t1.jpg"


@pytest.fixture(scope="session")
def shared_faces() -> Path:
    """The labelled real photos and video in ../shared/testdata/faces (never copied here)."""
    if not SHARED_FACES.is_dir():
        pytest.skip(f"real test data not present at {SHARED_FACES}")
    return SHARED_FACES


@pytest.fixture
def bentoml_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty, private BentoML store for one test."""
    home = tmp_path / "bentoml"
    home.mkdir()
    monkeypatch.setenv("BENTOML_HOME", str(home))
    yield home
