"""What every service process imports at start. BentoML imports ``service.py`` in each of them
(the `bentoml serve` parent, the API, FaceModel x2, EmotionModel, GalleryStore), so a heavy
module imported there costs its import time six times over on each cold start
(docs/benchmarks.md, "Cold start"). These load where they are used instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# each: who needs it, where it is imported instead
LAZY = {
    "torch": "nobody serving: CLIP runs its ONNX export (torch is the export extra)",
    "chromadb": "GalleryStore only (runners/gallery.py, facereid/gallery/chroma.py)",
    "aiohttp": "the API process's clients of the other services (runners/session_fix.py)",
    "redis": "a Redis job store or audit log, when one is configured",
}


def test_service_import_leaves_heavy_modules_to_the_processes_that_use_them(
    tmp_path: Path,
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("JOB_STORE", "GALLERY"))},
        "BENTOML_HOME": str(tmp_path / "bentoml"),
        "DATA_DIR": str(tmp_path / "data"),
    }
    probe = "import json, sys, service; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = {name.split(".")[0] for name in json.loads(done.stdout.strip().splitlines()[-1])}
    assert "service" in loaded  # the probe imported what BentoML imports
    assert {name: LAZY[name] for name in LAZY if name in loaded} == {}
