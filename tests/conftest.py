"""Shared fixtures: photos that packages ship, the shared real test data, a temporary
BentoML store, the synthetic InsightFace pack, and the session's real servers.

The servers live here (not in tests/integration/) so that every folder that needs one, the
integration tests and the load-test smoke run, shares one process per session.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import Server, models_command, start_server, synth_store

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


@pytest.fixture(scope="session")
def insightface_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny synthetic buffalo_l pack (seed 0), written once per session; read-only."""
    from models.synth.insightface_pack import write_insightface_pack  # onnx: only when used

    dest = tmp_path_factory.mktemp("insightface-pack")
    write_insightface_pack(dest, seed=0)
    return dest


@pytest.fixture(scope="session")
def synthetic_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A BentoML store with the tiny synthetic InsightFace pack and CLIP (``models synth``)."""
    return synth_store(tmp_path_factory.mktemp("synthetic-store"))


@pytest.fixture(scope="session")
def synthetic_server(
    synthetic_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    logs = tmp_path_factory.mktemp("logs")
    server = start_server(
        "service:FaceReID", synthetic_home, logs / "synthetic.log", {"FACE_ENGINE": "insightface"}
    )
    with server:
        server.wait_healthy()
        yield server


@pytest.fixture(scope="session")
def scenario_mp4(t1_path: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The t1.jpg scenario of tests/video_builder.py as an MP4 (7 s, seven people)."""
    from tests.video_builder import t1_scenario, write_video

    tom = t1_path.with_name("Tom_Hanks_54745.png")
    path = tmp_path_factory.mktemp("video") / "scenario.mp4"
    return write_video(path, t1_scenario(t1_path, tom)).read_bytes()


@pytest.fixture(scope="session")
def dlib_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """No face model and no CLIP in the store: the dlib engine answers, and emotions come
    from fer's model, stored as ``make serve``'s ``python -m models ensure`` stores it."""
    home = models_command(tmp_path_factory.mktemp("fer-store"), "fer")
    logs = tmp_path_factory.mktemp("logs")
    # Progress reaches /video/status with each heartbeat: at 0.2 s a short test video (about
    # a second with two dlib face workers) still shows progress between its chunks. The
    # retention sweep runs each second, so a gallery set to expire in ~2 s is seen to expire
    # (tests/integration/test_gallery_retention.py); other galleries keep the 1095-day default.
    env = {
        "FACE_ENGINE": "auto",
        "VIDEO_JOB_HEARTBEAT_S": "0.2",
        "GALLERY_RETENTION_SWEEP_S": "1",
    }
    with start_server("service:FaceReID", home, logs / "dlib.log", env) as server:
        yield server
