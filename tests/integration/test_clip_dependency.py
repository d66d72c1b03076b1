"""CLIP as a separately deployed service: the face service follows CLIP_SERVICE_URL, keeps
serving detection and embeddings while CLIP is down, and recovers by itself."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import Server, free_port, start_server
from tests.integration.payloads import b64_file

pytestmark = pytest.mark.slow


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def test_clip_down_then_back(synthetic_home: Path, tmp_path: Path, t1_path: Path) -> None:
    clip_port = free_port()
    clip = start_server(
        "runners.emotion:EmotionModel", synthetic_home, tmp_path / "clip.log", port=clip_port
    )
    face: Server | None = None
    try:
        face = start_server(
            "service:FaceReID",
            synthetic_home,
            tmp_path / "face.log",
            {"CLIP_SERVICE_URL": clip.url, "FACE_ENGINE": "insightface", "CLIP_TIMEOUT_S": "15"},
        )
        image = {"image_data": b64_file(t1_path)}

        def health() -> dict[str, Any]:
            body: dict[str, Any] = httpx.get(f"{face.url}/health", timeout=10).json()
            return body

        assert wait_for(lambda: health()["status"] == "healthy"), health()
        first = httpx.post(f"{face.url}/analyze", json=image, timeout=60).json()
        assert first["emotions"] is not None
        assert "Service EmotionModel initialized" not in face.log()  # not started locally

        clip.stop()
        assert wait_for(lambda: health()["status"] == "degraded"), health()
        body = health()
        assert body["clip_service"] == "unavailable"
        assert "CLIP" in body["reason"]
        during = httpx.post(f"{face.url}/analyze", json=image, timeout=60)
        assert during.status_code == 200
        assert during.json()["emotions"] is None
        assert during.json()["embedding"] == pytest.approx(first["embedding"], abs=1e-5)

        clip = start_server(
            "runners.emotion:EmotionModel", synthetic_home, tmp_path / "clip2.log", port=clip_port
        )
        assert wait_for(lambda: health()["status"] == "healthy"), health()
        after = httpx.post(f"{face.url}/analyze", json=image, timeout=60).json()
        assert after["emotions"] == pytest.approx(first["emotions"], abs=1e-5)
    finally:
        clip.stop()
        if face is not None:
            face.stop()
