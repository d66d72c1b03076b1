"""The face service's start: the dlib engine's models are in memory before the service is
ready, so the first request after /readyz does not pay their load (docs/benchmarks.md, Cold
start). A fresh process, since the service's settings are read when its module is imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import REPO_ROOT

pytestmark = pytest.mark.slow

PROBE = """
from runners.face import FaceModel
service = FaceModel.inner()
print(service.engine.model_info.engine, service.engine._models is not None)
"""


def test_the_dlib_models_load_when_the_service_starts(tmp_path: Path) -> None:
    env = {**os.environ, "BENTOML_HOME": str(tmp_path), "FACE_ENGINE": "dlib"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-2:] == ["dlib", "True"]
