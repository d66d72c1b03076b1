"""The face model service: detection and embedding, batched across requests."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import bentoml
import numpy as np

from facereid.config import Settings, get_settings
from facereid.engines.pipeline import analyze_encoded, detect_and_embed
from facereid.faces.onnx_runtime import CPU, select_providers
from facereid.intake.service_decode import ServiceDecoder
from facereid.ops import metrics
from facereid.ops.logs import configure_logging
from facereid.wire.faces import EncodedRequest, FaceModelInfo, FacesWire, FaceWire
from runners import RUNNER_CONNECTION
from runners.media_types import answer_media_types
from runners.store_refs import model_labels, optional_bento_model

logger = logging.getLogger(__name__)
_settings = get_settings()

# Batches of up to 8 images: on a 2-core CPU host one batch of 8 640x640 detections costs
# about 8x one image, so larger batches only add queueing; on a GPU raise it (docs/operations.md).
# max_latency_ms is BentoML's load-shedding bound (requests predicted to wait longer get 503),
# not a batching window: it must exceed the slowest batch (dlib HOG: ~2 s per 1280 px image).
DLIB_LICENSE = {
    "grant": "see message",
    "message": (
        "dlib's HOG detector and ResNet face recognition model are public domain (CC0); the "
        "68-point shape predictor is trained on iBUG 300-W, whose terms exclude commercial "
        "use (dlib-models README)"
    ),
}
FACE_MAX_BATCH = 8
FACE_MAX_LATENCY_MS = 60_000


def engine_settings(settings: Settings) -> Settings:
    """ORT_INTRA_OP_THREADS=0 (auto) becomes half the cores per model thread (threads x
    workers x batch groups, each running ONNX Runtime at the same time): the API
    process, the decode pool and the HTTP stack need the other half. ONNX Runtime's own
    default (every core per session) measured 2-3x slower under load on 2 cores
    (docs/benchmarks.md: 14.9 against 53.7 img/s at c=32)."""
    if settings.ort_intra_op_threads != 0:
        return settings
    per_model = settings.face_service_threads * service_workers(settings)
    per_model *= batch_groups(settings, "insightface")  # groups run ONNX side by side
    threads = max(1, (os.cpu_count() or 1) // (2 * per_model))
    return settings.model_copy(update={"ort_intra_op_threads": threads})


def batch_groups(settings: Settings, engine: str, cores: int | None = None) -> int:
    """FACE_BATCH_GROUPS, or for 0 (auto): one group where one batched call is the point (a
    CUDA provider; dlib, which holds the GIL), else one per decode thread up to the cores."""
    if settings.face_batch_groups:
        return settings.face_batch_groups
    if engine == "dlib" or select_providers()[0] != CPU:
        return 1
    return max(1, min(settings.face_decode_threads, cores or os.cpu_count() or 1))


def service_workers(settings: Settings, cores: int | None = None) -> int:
    """FACE_SERVICE_WORKERS, or for 0 (auto): 1 with a CUDA provider (one CUDA context and
    one batch queue per GPU), else 2 where there are two cores. BentoML's dispatcher runs one
    batch at a time per worker, so while one worker does the serial part of a batch
    (unpickling requests, packing answers, the hop back) only a second worker keeps the other
    core busy: 140 -> 154 img/s at c=32 on 2 cores (docs/benchmarks.md). More than 2 is not
    measured; the batch groups already spread one batch over the cores."""
    if settings.face_service_workers:
        return settings.face_service_workers
    if select_providers()[0] != CPU:
        return 1
    return max(1, min(2, cores or os.cpu_count() or 1))


@answer_media_types
@bentoml.service(
    name="FaceModel",
    # Threads run batches side by side (ONNX Runtime releases the GIL) while the decode pool
    # (FACE_DECODE_THREADS) decodes the next images; measured in docs/benchmarks.md.
    workers=service_workers(_settings),
    threads=_settings.face_service_threads,
    traffic={"timeout": 120, "max_concurrency": 64},
    runner_connection=RUNNER_CONNECTION,
)
class FaceModel:
    face_pack = optional_bento_model(_settings.face_model_tag)

    def __init__(self) -> None:
        from facereid.engines.factory import build_engine, insightface_model_info

        pack_dir = None
        info = None
        metadata: dict[str, Any] = {}
        stored: bentoml.Model | None = self.face_pack  # resolved by BentoML on the instance
        if stored is not None and _settings.face_engine != "dlib":
            pack_dir = Path(stored.path)
            metadata = dict(stored.info.metadata)
            info = insightface_model_info(model_labels(stored), metadata, str(stored.tag))
        configure_logging(_settings.log_format, _settings.log_level)
        self.engine = build_engine(engine_settings(_settings), pack_dir, info, metadata)
        # dlib's models otherwise load inside the first request (~1 s): loaded here, they load
        # while the other services still import, and /readyz means the models are in memory.
        load = getattr(self.engine, "load", None)
        if callable(load):
            load()
        self.decoder = ServiceDecoder(_settings)
        self.groups = batch_groups(_settings, self.engine.model_info.engine)
        # The terms the loaded models carry: insightface's own MODEL.LICENSE inspection,
        # stored at pull/import time, or the dlib models' published terms.
        self.license = metadata.get("license") if info is not None else DLIB_LICENSE
        logger.info("face engine ready: %s (license: %s)", self.engine.model_info, self.license)

    @bentoml.api
    def info(self) -> FaceModelInfo:
        """Which model answers, and the terms it carries."""
        model = self.engine.model_info
        return FaceModelInfo(
            engine=model.engine,
            name=model.name,
            source=model.source,
            synthetic=model.synthetic,
            embedding_dim=model.embedding_dim,
            embedding_model=model.embedding_id,
            tag=model.tag,
            license=self.license,
        )

    @bentoml.api(batchable=True, max_batch_size=FACE_MAX_BATCH, max_latency_ms=FACE_MAX_LATENCY_MS)
    def detect_embed(self, images: list[np.ndarray]) -> list[list[FaceWire]]:
        """Decoded frames in (the video pipeline's); their faces, largest first, out."""
        metrics.observe_batch_size(len(images))
        faces = detect_and_embed(self.engine, images)
        return [[FaceWire.from_record(face) for face in per_image] for per_image in faces]

    @bentoml.api(batchable=True, max_batch_size=FACE_MAX_BATCH, max_latency_ms=FACE_MAX_LATENCY_MS)
    def analyze_encoded(self, requests: list[EncodedRequest]) -> list[FacesWire]:
        """Encoded images in, decoded here in parallel; each image's faces in original pixels
        and emotion crops, or its own error, out (``facereid.engines.pipeline``)."""
        metrics.observe_batch_size(len(requests))
        return analyze_encoded(self.engine, self.decoder, requests, self.groups)
