"""Custom Prometheus metrics, shown on the API service's ``/metrics``.

BentoML runs every service process with ``PROMETHEUS_MULTIPROC_DIR`` set and its ``/metrics``
merges all processes' files, so a histogram observed in the face model service appears on the
API service's endpoint too. The metrics are created on first use, never at import, so that
``prometheus_client`` is first used after BentoML has set that directory (the reason
``bentoml.metrics`` defers its import, and why it now points users to ``prometheus_client``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

FACE_BUCKETS = (0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
BATCH_BUCKETS = (1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 32, 64)
STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


@lru_cache(maxsize=1)
def _metrics() -> dict[str, Any]:
    from prometheus_client import Counter, Gauge, Histogram

    return {
        "faces": Histogram(
            "facereid_faces_per_image", "Faces found per analysed image", buckets=FACE_BUCKETS
        ),
        "stage": Histogram(
            "facereid_stage_duration_seconds",
            "Time per analysis stage (decode, detect_embed, emotions)",
            ["stage"],
            buckets=STAGE_BUCKETS,
        ),
        "batch": Histogram(
            "facereid_face_model_batch_size",
            "Images per batch seen by the face model service",
            buckets=BATCH_BUCKETS,
        ),
        "model": Gauge(
            "facereid_model_info",
            "The face model in use (value 1)",
            ["engine", "pack", "synthetic"],
            multiprocess_mode="max",
        ),
        "clip": Gauge(
            "facereid_clip_available",
            "1 when the CLIP emotion service answers its health check",
            multiprocess_mode="mostrecent",
        ),
        "cache": Counter(
            "facereid_analysis_cache_total",
            "Repeated-image cache lookups by result (hit, miss, error)",
            ["result"],
        ),
        "rejections": Counter(
            "facereid_rejections_total", "Error responses by error code", ["code"]
        ),
        # Labelled by route template, never the raw path: BentoML's own HTTP metrics label by
        # path, so random paths grew /metrics without bound (1.26 MB per 300 requests).
        "http_requests": Counter(
            "facereid_http_requests_total",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
        ),
        "http_duration": Histogram(
            "facereid_http_request_duration_seconds",
            "HTTP request duration by route template",
            ["route", "method"],
            buckets=STAGE_BUCKETS,
        ),
    }


def observe_faces(count: int) -> None:
    _metrics()["faces"].observe(count)


@contextmanager
def stage_timer(stage: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        _metrics()["stage"].labels(stage=stage).observe(time.perf_counter() - started)


def observe_batch_size(size: int) -> None:
    _metrics()["batch"].observe(size)


def set_model_info(engine: str, pack: str, synthetic: bool) -> None:
    _metrics()["model"].labels(
        engine=engine, pack=pack or "none", synthetic=str(bool(synthetic)).lower()
    ).set(1)


def set_clip_available(available: bool) -> None:
    _metrics()["clip"].set(1 if available else 0)


def count_rejection(code: str) -> None:
    _metrics()["rejections"].labels(code=code).inc()


UNMATCHED_ROUTE = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    """``route`` must be a template or ``UNMATCHED_ROUTE``; the method and status are
    clamped to small sets here so no label can take client-chosen values."""
    method = method if method in _METHODS else "other"
    status_label = str(status) if 100 <= status <= 599 else "other"
    _metrics()["http_requests"].labels(route=route, method=method, status=status_label).inc()
    _metrics()["http_duration"].labels(route=route, method=method).observe(seconds)


def exposition() -> tuple[bytes, str]:
    """The Prometheus text of every service process (the multiprocess directory BentoML sets)
    or, without one, of this process; and its content type."""
    import os

    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        REGISTRY,
        CollectorRegistry,
        generate_latest,
        multiprocess,
    )

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def count_cache(result: str) -> None:
    _metrics()["cache"].labels(result=result).inc()
