"""The emotion service's start on a store it cannot fully use: a CLIP entry from before the ONNX
export says why instead of failing the server's start, and under EMOTION_ENGINE=auto gives way
to fer's model. Each case imports runners.emotion in a fresh process, because the service's
model references are read from the store when the module is imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from facereid.config import CLIP_MODEL_NAME
from models.store import save_model
from models.synth.clip import CHECKPOINT_FILE, write_clip_pack
from tests.harness import REPO_ROOT

pytestmark = pytest.mark.slow

PROBE = """
import json
from runners.emotion import EmotionModel
service = EmotionModel.inner()
print(json.dumps(service.health().model_dump()))
"""


@pytest.fixture(scope="module")
def legacy_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding fer's model and a CLIP entry in the old checkpoint-only format."""
    home = tmp_path_factory.mktemp("legacy-store")
    env = {**os.environ, "BENTOML_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-m", "models", "fer"], cwd=REPO_ROOT, env=env, capture_output=True
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    folder = tmp_path_factory.mktemp("legacy-clip")
    info = write_clip_pack(folder, seed=0)
    metadata = {"files": info["files"], "checkpoint_file": CHECKPOINT_FILE}
    previous = os.environ.get("BENTOML_HOME")
    os.environ["BENTOML_HOME"] = str(home)  # models.store reads it at each call
    try:
        save_model(
            CLIP_MODEL_NAME,
            folder,
            list(info["files"]),  # type: ignore[call-overload]
            labels={"source": "synthetic"},
            metadata=metadata,
        )
    finally:
        if previous is None:
            del os.environ["BENTOML_HOME"]
        else:
            os.environ["BENTOML_HOME"] = previous
    return home


def probe(home: Path, engine: str) -> dict[str, object]:
    env = {**os.environ, "BENTOML_HOME": str(home), "EMOTION_ENGINE": engine}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    status: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return status


def test_auto_falls_back_to_fer_when_the_clip_entry_does_not_load(legacy_store: Path) -> None:
    status = probe(legacy_store, "auto")
    assert status["available"] is True and status["engine"] == "fer"
    assert str(status["model"]).startswith("facereid-fer:") and status["reason"] is None


def test_a_forced_clip_engine_says_why_and_the_command_to_run(legacy_store: Path) -> None:
    status = probe(legacy_store, "clip")
    assert status["available"] is False and status["engine"] == "clip"
    reason = str(status["reason"])
    assert "old checkpoint-only format" in reason and "python -m models ensure" in reason
    assert "Error" not in reason  # a sentence, not an exception's class name
