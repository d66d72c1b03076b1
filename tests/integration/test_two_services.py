"""Two deployables as their images run them: the Bentos built from bentofile.yaml (face) and
deploy/bento/clip-gpu.yaml (CLIP), exported and served from their folders (not the source tree)
with an empty model store, CLIP without the face-only packages; the face Bento uses its packed
InsightFace pack and follows CLIP_SERVICE_URL to the model packed in the CLIP Bento.
(test_clip_dependency.py covers CLIP going down and coming back.)"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import httpx
import pytest

from tests.deploy.test_bento_build import locked, require_index
from tests.harness import REPO_ROOT, Server, start_server
from tests.integration.payloads import b64_file

pytestmark = pytest.mark.slow

# distribution -> module, for packages the face image has and the CLIP image must not need
FACE_ONLY = {
    "onnx": "onnx",
    "insightface": "insightface",
    "dlib-bin": "dlib",
    "face-recognition-models": "face_recognition_models",
    "scipy": "scipy",
    "scikit-image": "skimage",
    "limits": "limits",
    "redis": "redis",
}

# A None entry in sys.modules makes `import x` fail and importlib.util.find_spec(x) answer None:
# to the CLIP service the face-only packages look uninstalled, as in its image.
BLOCKER = """
import sys
for name in {blocked!r}:
    sys.modules[name] = None
"""


def build_bento(home: Path, bentofile: str) -> tuple[str, Path]:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("bentoml")), "build", "-f", bentofile]
        + [".", "--output", "tag"],
        cwd=REPO_ROOT,
        env={  # CLIP_SERVICE_URL unset: the face Bento packs the CLIP model too
            **{k: v for k, v in os.environ.items() if k != "CLIP_SERVICE_URL"},
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


def unpack_bento(tag: str, home: Path, dest: Path) -> Path:
    """`bentoml export` copies the packed models in, as `containerize` does for the image."""
    archive = dest.with_suffix(".tar")
    subprocess.run(
        [Path(sys.executable).with_name("bentoml"), "export", tag, str(archive)],
        env={**os.environ, "BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "true"},
        check=True,
        capture_output=True,
    )
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    return dest


def test_face_bento_follows_the_clip_bento(
    synthetic_home: Path, tmp_path: Path, t1_path: Path
) -> None:
    require_index()
    clip_tag, clip_bento = build_bento(synthetic_home, "deploy/bento/clip-gpu.yaml")
    face_tag, _ = build_bento(synthetic_home, "bentofile.yaml")
    pins = locked(clip_bento)
    blocked = sorted({module for dist, module in FACE_ONLY.items() if dist not in pins})
    assert "onnx" in blocked and "insightface" in blocked
    # CLIP runs its ONNX export (docs/clip_onnx.md): the image has no torch at all.
    assert "onnxruntime-gpu" in pins and not {"torch", "torchvision", "open-clip-torch"} & set(pins)
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER.format(blocked=blocked))

    # As in the images: each Bento served from its folder with an empty BentoML store, so the
    # models can only come from what the Bento packed.
    clip_dir = unpack_bento(clip_tag, synthetic_home, tmp_path / "clip-bento")
    face_dir = unpack_bento(face_tag, synthetic_home, tmp_path / "face-bento")
    # the emotion service references both emotion models (EMOTION_ENGINE picks at start)
    assert sorted(p.name for p in (clip_dir / "models").iterdir()) == [
        "facereid-clip",
        "facereid-fer",
    ]
    assert sorted(p.name for p in (face_dir / "models").iterdir()) == [
        "facereid-clip",
        "facereid-fer",
        "facereid-insightface",
    ]
    empty_home = tmp_path / "empty-home"
    empty_home.mkdir()
    clip = start_server(str(clip_dir), empty_home, tmp_path / "clip.log", {"PYTHONPATH": str(site)})
    face: Server | None = None
    try:
        clip_health = httpx.post(f"{clip.url}/health", json={}, timeout=30).json()
        assert clip_health["available"] is True, clip_health
        face = start_server(
            str(face_dir),
            empty_home,
            tmp_path / "face.log",
            {"CLIP_SERVICE_URL": clip.url, "FACE_ENGINE": "auto"},
        )
        deadline = time.monotonic() + 60
        health = httpx.get(f"{face.url}/health", timeout=10).json()
        while health["status"] != "healthy" and time.monotonic() < deadline:
            time.sleep(0.5)
            health = httpx.get(f"{face.url}/health", timeout=10).json()
        assert health["status"] == "healthy", health
        assert health["engine"] == "insightface", health  # the packed pack, not the dlib fallback
        # the CLIP model the face service reports is the one packed into the CLIP Bento
        assert health["clip_model"]["model"] == clip_health["model"]
        packed = [
            line for line in (clip_bento / "bento.yaml").read_text().splitlines() if "tag:" in line
        ]
        assert any(clip_health["model"] in line for line in packed), packed
        body = httpx.post(
            f"{face.url}/analyze", json={"image_data": b64_file(t1_path)}, timeout=120
        ).json()
        # float32 softmax: the probabilities sum to 1 within a few ulps each, not within 1e-6
        assert body["emotions"] is not None
        assert sum(body["emotions"].values()) == pytest.approx(1, abs=1e-5)
        assert "Service EmotionModel initialized" not in face.log()  # not started locally
    finally:
        clip.stop()
        if face is not None:
            face.stop()
