"""Shared helpers: timing loops, model loading from the store, markdown tables."""

from __future__ import annotations

import base64
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
REPORTS = REPO_ROOT / "reports"
BENCH_IMAGE = os.environ.get("BENCH_IMAGE", "single_1024_1face")


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def env_ints(name: str, default: str) -> list[int]:
    return [int(v) for v in os.environ.get(name, default).split(",") if v.strip()]


@dataclass
class Timing:
    calls: int
    seconds: float
    latencies: list[float]

    @property
    def per_call_ms(self) -> float:
        return 1000 * self.seconds / max(self.calls, 1)

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(self.latencies, q) * 1000) if self.latencies else float("nan")


def time_loop(fn: Callable[[], Any], seconds: float, warmup: int = 1, min_calls: int = 2) -> Timing:
    """Call ``fn`` serially for about ``seconds`` (at least ``min_calls`` times)."""
    for _ in range(warmup):
        fn()
    latencies: list[float] = []
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        fn()
        latencies.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and len(latencies) >= min_calls:
            return Timing(len(latencies), elapsed, latencies)


def bench_image_bgr(name: str = BENCH_IMAGE) -> np.ndarray:
    import cv2

    from loadtests.payloads import image_case

    raw = base64.b64decode(image_case(name).b64)
    image = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"bench image {name!r} does not decode")
    return image


def load_face_engine() -> Any:
    """The InsightFace engine exactly as the face service builds it (batch-edited detector)."""
    import bentoml

    from facereid.config import get_settings
    from facereid.engines.factory import build_engine, insightface_model_info
    from runners.store_refs import model_labels

    settings = get_settings()
    stored = bentoml.models.get(settings.face_model_tag)
    metadata = dict(stored.info.metadata)
    info = insightface_model_info(model_labels(stored), metadata, str(stored.tag))
    return build_engine(settings, Path(stored.path), info, metadata)


def store_path(tag: str) -> Path:
    import bentoml

    return Path(bentoml.models.get(tag).path)


def load_emotion_scorer() -> Any:
    from facereid.config import get_settings
    from facereid.emotion.clip_model import load_clip
    from facereid.emotion.scorer import EmotionScorer

    settings = get_settings()
    return EmotionScorer(load_clip(store_path(settings.clip_model_tag)))


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "n/a" if v != v else (f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}")
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_description() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024**2:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), {mem} RAM, Python {platform.python_version()}"
