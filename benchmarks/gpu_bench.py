"""The torch parts of the benchmark on CUDA: the CLIP ViT-B/32 image tower (what the emotion
service runs; random weights, the realistic synthetic profile's architecture) at several
batch sizes in fp32 and fp16, the zero-shot text features, the CPU->GPU preprocess copy, and
the emotion service's own preprocessing of 32 face crops (``BatchPreprocess``) with 1 thread
and with CLIP_PREPROCESS_THREADS auto, alone and in front of the tower. Needs only torch,
open_clip and Pillow (``models.clip_torch`` imports nothing else of the project's
dependencies), so it runs on a bare GPU machine.

    python3 benchmarks/gpu_bench.py --out $OUT/gpu_bench.md --seconds 3
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


def timed(
    fn: Callable[[], object], seconds: float, sync: Callable[[], object]
) -> tuple[int, float]:
    fn()
    sync()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or calls < 3:
        fn()
        calls += 1
    sync()
    return calls, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--batches", default="1,8,32,64,128,256")
    args = parser.parse_args()

    import open_clip

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else "CPU (no CUDA)"
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if device.type != "cuda":  # a CPU fallback only proves the script runs
        args.batches = "1,8"
    model = open_clip.create_model("ViT-B-32", pretrained=None).eval().to(device)
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    rows = []
    for dtype in (torch.float32, torch.float16):
        if dtype == torch.float16 and device.type != "cuda":
            continue
        for batch in [int(b) for b in args.batches.split(",")]:
            pixels = torch.randn(batch, 3, 224, 224, device=device)

            def run(pixels: torch.Tensor = pixels, dtype: torch.dtype = dtype) -> None:
                with (
                    torch.inference_mode(),
                    torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32),
                ):
                    model.encode_image(pixels, normalize=True)

            calls, seconds = timed(run, args.seconds, sync)
            per_call = 1000 * seconds / calls
            rows.append(
                (
                    "CLIP image tower",
                    str(dtype).split(".")[-1],
                    batch,
                    per_call,
                    batch * calls / seconds,
                )
            )
            print(rows[-1], flush=True)
    text = tokenizer([f"a photo of a {e} face." for e in range(42)]).to(device)

    def text_run() -> None:
        with torch.inference_mode():
            model.encode_text(text, normalize=True)

    calls, seconds = timed(text_run, args.seconds, sync)
    rows.append(
        (
            "CLIP text tower (42 prompts)",
            "float32",
            42,
            1000 * seconds / calls,
            42 * calls / seconds,
        )
    )
    host = torch.randn(64, 3, 224, 224).pin_memory() if device.type == "cuda" else None
    if host is not None:
        calls, seconds = timed(lambda: host.to(device, non_blocking=True), args.seconds, sync)
        rows.append(
            (
                "preprocessed batch H2D copy",
                "float32",
                64,
                1000 * seconds / calls,
                64 * calls / seconds,
            )
        )

    rows += preprocess_rows(model, device, sync, args.seconds)

    lines = [
        f"# GPU check: {name}, torch {torch.__version__}",
        "",
        "| part | dtype | batch | ms per call | items/s |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {p} | {d} | {b} | {ms:.2f} | {rate:.0f} |" for p, d, b, ms, rate in rows]
    text_out = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text_out)
    args.out.with_suffix(".json").write_text(json.dumps({"device": name, "rows": rows}))
    print(text_out)
    return 0


def preprocess_rows(
    model: Any, device: torch.device, sync: Callable[[], object], seconds: float
) -> list[tuple[str, str, int, float, float]]:
    """The emotion service's former preprocessing (``models.clip_torch.BatchPreprocess``,
    before the ONNX export, over open_clip's eval transform) for 32 face crops of 100-400 px,
    with 1 thread and with one per core up to 8 (CLIP_PREPROCESS_THREADS auto), alone and
    followed by the tower: how close the service's scoring path comes to the bare tower's rate
    at the same batch."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    import open_clip
    from PIL import Image

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, for facereid
    from models.clip_torch import BatchPreprocess

    preprocess = open_clip.create_model_and_transforms("ViT-B-32", pretrained=None)[2]
    rng = np.random.default_rng(0)
    sides = rng.integers(100, 400, size=32)
    crops = [
        Image.fromarray(rng.integers(0, 256, (int(s), int(s * 0.8), 3), dtype=np.uint8))
        for s in sides
    ]
    rows = []
    for threads in sorted({1, min(8, os.cpu_count() or 1)}):
        with ThreadPoolExecutor(threads) as pool:
            batch = BatchPreprocess(preprocess, device, pool if threads > 1 else None)

            def prep(batch: BatchPreprocess = batch) -> None:
                batch(crops)

            def prep_and_tower(batch: BatchPreprocess = batch) -> None:
                with torch.inference_mode():
                    model.encode_image(batch(crops), normalize=True)

            for part, fn in (("preprocess", prep), ("preprocess + tower", prep_and_tower)):
                calls, spent = timed(fn, seconds, sync)
                rows.append(
                    (
                        f"service {part}, {threads} thread(s)",
                        "float32",
                        32,
                        1000 * spent / calls,
                        32 * calls / spent,
                    )
                )
                print(rows[-1], flush=True)
    return rows


if __name__ == "__main__":
    sys.exit(main())
