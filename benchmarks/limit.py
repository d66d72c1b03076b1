"""The limit: each model alone in a tight loop (no HTTP, no decode), and the whole pipeline
per image in one process. Models come from the BentoML store, built as the services build them.

    BENTOML_HOME=reports/bentoml_home_realistic python -m benchmarks.limit
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from benchmarks.common import (
    bench_image_bgr,
    env_float,
    env_ints,
    load_emotion_scorer,
    load_face_engine,
    markdown_table,
    time_loop,
)


@dataclass
class LimitRow:
    part: str
    batch: int
    per_call_ms: float
    images_per_s: float
    faces_per_s: float


def _sweep(
    part: str, make_call: Any, batches: list[int], seconds: float, faces_per_item: float = 1.0
) -> list[LimitRow]:
    rows = []
    for batch in batches:
        timing = time_loop(make_call(batch), seconds)
        rate = batch * timing.calls / timing.seconds
        rows.append(LimitRow(part, batch, timing.per_call_ms, rate, rate * faces_per_item))
    return rows


def best(rows: list[LimitRow]) -> LimitRow:
    return max(rows, key=lambda r: r.images_per_s)


def measure(seconds: float | None = None) -> dict[str, Any]:
    seconds = env_float("BENCH_LIMIT_SECONDS", 5.0) if seconds is None else seconds
    engine = load_face_engine()
    scorer = load_emotion_scorer()
    image = bench_image_bgr()
    size = engine._settings.det_size  # noqa: SLF001 - the benchmark mirrors the engine's feed
    rng = np.random.default_rng(0)

    def detector(batch: int) -> Any:
        blob = rng.standard_normal((batch, 3, size, size)).astype(np.float32)
        session, name = engine._detector, engine._det_input  # noqa: SLF001
        return lambda: session.run(None, {name: blob})

    def recognizer(batch: int) -> Any:
        blob = rng.standard_normal((batch, 3, 112, 112)).astype(np.float32)
        session = engine._recognizer  # noqa: SLF001
        name = session.get_inputs()[0].name
        return lambda: session.run(None, {name: blob})

    def clip_image(batch: int) -> Any:
        side = scorer.bundle.image_size
        pixels = rng.standard_normal((batch, 3, side, side)).astype(np.float32)
        return lambda: scorer.bundle.encode_image(pixels)  # the ONNX tower (docs/clip_onnx.md)

    rows: list[LimitRow] = []
    rows += _sweep(
        "detector (640x640)",
        detector,
        env_ints("BENCH_DET_BATCHES", "1,4,8"),
        seconds,
        float("nan"),
    )
    rows += _sweep(
        "recogniser (112x112)", recognizer, env_ints("BENCH_REC_BATCHES", "1,8,32"), seconds
    )
    rows += _sweep(
        "CLIP image tower", clip_image, env_ints("BENCH_CLIP_BATCHES", "1,8,32"), seconds
    )

    faces = engine.detect([image])[0]
    n_faces = len(faces)

    def pipeline(batch: int) -> Any:
        """What one /analyze with return_all_faces does past decoding: detect (+106 points),
        embed every face, CLIP every face; ``batch`` images per call like the model services."""
        from facereid.emotion.crops import crop_face

        images = [image] * batch

        def run() -> None:
            detections = engine.detect(images)
            owners = [i for i, fs in enumerate(detections) for _ in fs]
            flat = [f for fs in detections for f in fs]
            if flat:
                engine.embed([images[i] for i in owners], flat)
                crops = [
                    crop_face(images[i], f.bbox, scorer.margin)
                    for i, f in zip(owners, flat, strict=True)
                ]
                scorer.score_crops(crops)

        return run

    def attributes(batch: int) -> Any:
        """Age, gender and pose (genderage + 1k3d68 + the pose fit) for ``batch`` faces."""
        chosen = (faces * batch)[:batch]
        return lambda: engine.attributes([image] * len(chosen), chosen)

    attr_rows: list[LimitRow] = []
    # a store made before issue 24 has no genderage/1k3d68: nothing to measure then
    models = engine.attribute_models
    has_models = models.genderage is not None and models.landmarker_3d is not None
    if faces and has_models:
        attr_rows = _sweep(
            # the realistic pack's genderage/1k3d68 are sized like the real files (~0.02 and
            # ~2.7 GMACs, models/synth/realistic.py); a store made before session 3 has tiny
            # ones: re-run `models synth --profile realistic` (without --if-missing) for these
            "attributes per face (genderage + 1k3d68, crops + pose fit)",
            attributes,
            env_ints("BENCH_ATTR_BATCHES", "1,8"),
            seconds,
        )
        rows += attr_rows

    pipe_rows = _sweep(
        f"pipeline per image ({n_faces} faces)",
        pipeline,
        env_ints("BENCH_PIPE_BATCHES", "1,8"),
        seconds,
        faces_per_item=n_faces,
    )
    single = time_loop(pipeline(1), seconds)
    rows += pipe_rows
    return {
        "rows": [asdict(r) for r in rows],
        "faces_per_image": n_faces,
        "pipeline_best_images_per_s": best(pipe_rows).images_per_s,
        "pipeline_single_p50_ms": single.percentile_ms(50),
        # issue 24: what include_attributes adds per face, at its best batch
        "attributes_ms_per_face": (1000.0 / best(attr_rows).images_per_s) if attr_rows else None,
    }


def table(result: dict[str, Any]) -> str:
    rows = [
        (
            r["part"],
            r["batch"],
            r["per_call_ms"],
            r["images_per_s"],
            r["faces_per_s"],
        )
        for r in result["rows"]
    ]
    headers = ("model / path", "batch", "ms per call", "items/s", "faces/s")
    return markdown_table(headers, rows)


def main() -> int:
    result = measure()
    print(table(result))
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
