"""The serving path is torch-free: importing the services and scoring with the exported CLIP
pulls in none of torch, torchvision or open_clip (the serving image has none of them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[4]
FORBIDDEN = ("torch", "torchvision", "open_clip")
PROBE = """
import json, sys
from pathlib import Path

import numpy as np

import runners.emotion
import service
from facereid.emotion.clip_model import load_clip
from facereid.emotion.scorer import EmotionScorer

scorer = EmotionScorer(load_clip(Path(sys.argv[1])))
scorer.warm_up()
(scores,) = scorer.score_crops([np.full((120, 90, 3), 128, dtype=np.uint8)])
loaded = sorted({name.split(".")[0] for name in sys.modules} & set(sys.argv[2:]))
print(json.dumps({"loaded": loaded, "labels": sorted(scores)}))
"""


def test_services_and_scoring_import_no_torch(pack_dir: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "BENTOML_HOME": str(tmp_path / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(pack_dir), *FORBIDDEN],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["labels"], "the probe scored nothing"  # it did run the model
    assert report["loaded"] == []
