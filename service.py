"""FaceReID: the API service. Routes, request handling and composition only; the maths lives
in ``facereid`` and the models in ``runners``.

``bentoml serve service:FaceReID`` starts this service and its model services. With
``CLIP_SERVICE_URL`` set, emotions come from that separately deployed CLIP service instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import aiohttp
import anyio
import bentoml
import numpy as np
from pydantic import Field
from starlette.responses import JSONResponse

from facereid.analysis.responses import face_payload, utc_timestamp
from facereid.config import get_settings
from facereid.emotion.clip_health import ClipHealth
from facereid.errors import (
    BatchTooLargeError,
    EmbeddingModelMismatchError,
    EmptyBatchError,
    FaceReIDError,
    ModelOverloadedError,
    ModelTimeoutError,
    NoFaceError,
    TooManyRowsError,
)
from facereid.intake.images import decode_image_b64
from facereid.matching import similarity as matching
from facereid.matching import wire as embedding_wire
from facereid.ops import metrics
from facereid.ops.logs import configure_logging
from facereid.video import intake as video_mod  # issue 8
from facereid.video import jobs as video_jobs_mod  # issue 8
from facereid.video.pipeline import ModelCalls, VideoJobRunner
from facereid.web.chain import protection_middlewares
from facereid.web.contract import ContractMiddleware
from runners.emotion import EmotionModel
from runners.face import FaceModel
from runners.gallery_api import GalleryRoutes  # issue 13: the /gallery/* routes

logger = logging.getLogger("facereid.service")
T = TypeVar("T")
settings = get_settings()
clip_health = ClipHealth()
_service_state: dict[str, Any] = {}


async def _health() -> tuple[int, dict[str, Any]]:
    service = _service_state.get("instance")
    if service is None:
        return 503, {"status": "starting", "clip_service": "unknown"}
    try:
        return 200, await service.health_payload()
    except Exception as exc:  # the face model service is not answering: not a 500
        reason = f"face model service not reachable: {_describe(exc)}"
        return 503, {
            "status": "unavailable",
            "clip_service": clip_health.as_status(),
            "reason": reason,
        }


@bentoml.service(
    name="FaceReID",
    workers=1,
    traffic={"timeout": 120, "max_concurrency": 256},
    http={"port": 3000},
)
class FaceReID(GalleryRoutes):
    face = bentoml.depends(FaceModel)
    emotion = bentoml.depends(EmotionModel, url=settings.clip_service_url)

    def __init__(self) -> None:
        self.model_info: dict[str, Any] | None = None
        self._poller: asyncio.Task[None] | None = None
        self.video_runner = VideoJobRunner(
            settings,
            ModelCalls(
                detect_embed=self._detect_embed,
                emotions=lambda image, faces: self._emotions(image, faces, None),
                face_model=self._face_model,
                clip_available=lambda: clip_health.available,
            ),
        )
        _service_state["instance"] = self
        configure_logging(settings.log_format, settings.log_level)  # after BentoML's own

    @bentoml.on_startup
    async def _start_clip_poller(self) -> None:
        self._poller = asyncio.create_task(self._poll_clip())

    async def _poll_clip(self) -> None:
        while True:
            await self._check_clip()
            await asyncio.sleep(settings.clip_health_interval_s)

    async def _check_clip(self) -> None:
        try:
            detail = await asyncio.wait_for(
                self.emotion.to_async.health(), timeout=settings.clip_timeout_s
            )
        except Exception as exc:  # any failure to reach CLIP means "unavailable"
            clip_health.mark_unavailable(f"CLIP service not reachable: {_describe(exc)}")
            return
        if detail.get("available"):
            clip_health.mark_available(detail)
        else:
            clip_health.mark_unavailable(str(detail.get("reason") or "CLIP model not loaded"))

    async def _face_model(self) -> dict[str, Any]:
        if self.model_info is None:
            self.model_info = await self.face.to_async.info()
            info = self.model_info
            metrics.set_model_info(info["engine"], str(info.get("name")), info["synthetic"])
        return self.model_info

    async def health_payload(self) -> dict[str, Any]:
        model = await self._face_model()
        payload: dict[str, Any] = {
            "status": "healthy" if clip_health.available else "degraded",
            "clip_service": clip_health.as_status(),
            "engine": model["engine"],
            "face_model": model,
            "clip_model": clip_health.detail if clip_health.available else None,
        }
        if not clip_health.available:
            payload["reason"] = clip_health.reason
        if model["synthetic"] or clip_health.detail.get("synthetic"):
            payload["warning"] = "synthetic stand-in models loaded: results are not real"
        return payload

    async def __is_ready__(self) -> bool:
        """Ready once the face model answers; CLIP only degrades health, but a readiness
        probe refreshes its state so the first requests do not skip emotions needlessly."""
        try:
            await self._face_model()
        except Exception:
            return False
        if not clip_health.available:
            await self._check_clip()
        return True

    # -- routes ---------------------------------------------------------------------------

    @bentoml.api(route="/analyze")
    async def analyze(
        self,
        image_data: Annotated[str, Field(description="base64 image; a data: URL prefix is fine")],
        return_all_faces: bool = False,
        include_emotions: bool = True,
        emotion_labels: list[str] | None = None,
        embedding_encoding: Literal["float", "base64"] = "float",
    ) -> Any:
        """``embedding_encoding="base64"`` answers ``embedding_b64`` (little-endian float32)
        instead of the ``embedding`` floats: a third of the bytes, no float parsing."""
        try:
            labels = _checked_labels(emotion_labels)
            result = await self._analyze_one(image_data, return_all_faces, include_emotions, labels)
        except FaceReIDError as exc:
            return _error(exc)
        if embedding_encoding == "base64":
            return embedding_wire.use_base64_embeddings(result)
        return result

    @bentoml.api(route="/analyze_batch")
    async def analyze_batch(
        self,
        images: Annotated[list[str], Field(description="base64 images, at most 32")],
        return_all_faces: bool = False,
        include_emotions: bool = True,
        emotion_labels: list[str] | None = None,
    ) -> Any:
        if not images:
            return _error(EmptyBatchError("images must hold at least one image"))
        if len(images) > settings.max_batch_images:
            return _error(
                BatchTooLargeError(
                    f"{len(images)} images in one batch; the limit is {settings.max_batch_images}"
                )
            )

        try:
            labels = _checked_labels(emotion_labels)
        except FaceReIDError as exc:
            return _error(exc)

        async def one(data: str) -> dict[str, Any]:
            try:
                return await self._analyze_one(data, return_all_faces, include_emotions, labels)
            except FaceReIDError as exc:
                return _error_payload(exc)

        # Concurrent calls let the model services batch these images with other requests'.
        results = await asyncio.gather(*(one(data) for data in images))
        return {"results": list(results), "count": len(results)}

    @bentoml.api(route="/compare")
    def compare(
        self,
        face1_embedding: list[float],
        face2_embedding: list[float],
        face1_model: str | None = None,
        face2_model: str | None = None,
    ) -> Any:
        """``face*_model`` (the ``embedding_model`` that /analyze returned) guard against
        comparing vectors from different models, which would give meaningless scores."""
        try:
            _same_model(face1_model, face2_model)
            a = matching.validate_embedding(face1_embedding, name="face1_embedding")
            b = matching.validate_embedding(face2_embedding, name="face2_embedding")
            return {"similarity": matching.cosine_similarity(a, b)}
        except FaceReIDError as exc:
            return _error(exc)

    @bentoml.api(route="/find_matches")
    def find_matches(
        self,
        target_embedding: list[float] | None = None,
        embeddings: list[list[float]] | None = None,
        threshold: float = 0.5,
        top_k: int | None = None,
        target_model: str | None = None,
        embeddings_model: str | None = None,
        target_embedding_b64: str | None = None,
        embeddings_b64: Annotated[
            list[str] | str | None,
            Field(description="base64 float32 rows, or one N x dim blob (give dim)"),
        ] = None,
        dim: int | None = None,
    ) -> Any:
        """Floats or base64 little-endian float32 (``*_b64``, see facereid.matching.wire)."""
        try:
            _same_model(target_model, embeddings_model)
            limit = settings.max_gallery_rows
            rows, count = embedding_wire.resolve_rows(
                embeddings, embeddings_b64, dim, max_rows=limit
            )
            if count > limit:
                raise TooManyRowsError(f"{count} rows; the limit is {limit}")
            target = matching.validate_embedding(
                embedding_wire.resolve_target(target_embedding, target_embedding_b64),
                name="target_embedding",
            )
            matches = matching.find_matches(target, rows, threshold=threshold, top_k=top_k)
        except FaceReIDError as exc:
            return _error(exc)
        return [{"index": i, "similarity": s} for i, s in matches]

    # -- video re-identification (issue 8, docs/video.md) ---------------------------------
    # Jobs live in an in-process table (facereid.video.jobs), not in @bentoml.task: BentoML
    # 1.4.40 tasks store the whole upload in SQLite, report no progress and cannot cancel.

    @bentoml.api(route="/video/submit")
    async def video_submit(
        self,
        video: Annotated[Path, Field(description="MP4/H.264, WebM, AVI, ... as a file upload")],
        sample_fps: float | None = None,
        include_emotions: bool = True,
    ) -> Any:
        """Checks the video's header and limits, answers 202 with a job id at once."""
        try:
            fps = video_jobs_mod.checked_sample_fps(sample_fps, settings.video_sample_fps)
            path = await anyio.to_thread.run_sync(
                video_jobs_mod.take_upload, video, settings.video_max_bytes
            )
            try:
                limits = video_jobs_mod.video_limits(settings)
                info = await anyio.to_thread.run_sync(video_mod.probe_video, path, limits)
                job = video_jobs.create(path, fps, include_emotions)
            except BaseException:
                video_jobs_mod.discard_upload(path)
                raise
        except FaceReIDError as exc:
            return _error(exc)
        job.frames_total = video_mod.expected_samples(info, fps)
        job.task = asyncio.create_task(self.video_runner.run(job))
        return JSONResponse(status_code=202, content=job.status_payload(video_jobs.ttl_s))

    @bentoml.api(route="/video/status")
    def video_status(self, job_id: str) -> Any:
        try:
            return video_jobs.get(job_id).status_payload(video_jobs.ttl_s)
        except FaceReIDError as exc:
            return _error(exc)

    @bentoml.api(route="/video/result")
    def video_result(self, job_id: str) -> Any:
        """The identities of a completed job; a failed or cancelled job answers its error."""
        try:
            job = video_jobs.result(job_id)
        except FaceReIDError as exc:
            return _error(exc)
        if job.status != video_jobs_mod.COMPLETED or job.result is None:
            error = dict(job.error or {"code": "internal_error", "message": "no result"})
            error["job_id"] = job.job_id
            return JSONResponse(status_code=job.error_status, content={"error": error})
        return {"job_id": job.job_id, "status": job.status, **job.result}

    @bentoml.api(route="/video/cancel")
    def video_cancel(self, job_id: str) -> Any:
        try:
            return video_jobs.cancel(job_id).status_payload(video_jobs.ttl_s)
        except FaceReIDError as exc:
            return _error(exc)

    # -- composition ----------------------------------------------------------------------

    async def _analyze_one(
        self,
        image_data: str,
        return_all_faces: bool,
        include_emotions: bool,
        emotion_labels: list[str] | None,
    ) -> dict[str, Any]:
        """Labels must already be validated (``_checked_labels``)."""
        with metrics.stage_timer("decode"):
            image = await anyio.to_thread.run_sync(_decode, image_data)
        model = await self._face_model()
        with metrics.stage_timer("detect_embed"):
            faces = await self._detect_embed(image)
        metrics.observe_faces(len(faces))
        if not faces:
            raise NoFaceError("no face found in the image")
        wanted = faces if return_all_faces else faces[:1]
        emotions: list[dict[str, float] | None] = [None] * len(wanted)
        if include_emotions:
            with metrics.stage_timer("emotions"):
                emotions = await self._emotions(image, wanted, emotion_labels)
        timestamp = utc_timestamp()
        payloads = [
            face_payload(face, emotions=emo, model=model, timestamp=timestamp)
            for face, emo in zip(wanted, emotions, strict=True)
        ]
        result = dict(payloads[0])
        result["num_faces"] = len(faces)
        if return_all_faces:
            result["faces"] = payloads
        return result

    async def _detect_embed(self, image: np.ndarray) -> list[dict[str, Any]]:
        try:
            batch = await asyncio.wait_for(
                _with_retries(lambda: self.face.to_async.detect_embed([image]), "face call"),
                timeout=settings.face_timeout_s,
            )
        except TimeoutError as exc:
            raise ModelTimeoutError(
                f"face model did not answer within {settings.face_timeout_s:g} s"
            ) from exc
        except bentoml.exceptions.ServiceUnavailable as exc:
            raise ModelOverloadedError("face model is overloaded; retry later") from exc
        return list(batch[0])

    async def _emotions(
        self, image: np.ndarray, faces: list[dict[str, Any]], labels: list[str] | None
    ) -> list[dict[str, float] | None]:
        from facereid.emotion.crops import crop_face

        if not clip_health.available:
            return [None] * len(faces)
        crops, scored = [], []
        for index, face in enumerate(faces):
            try:
                crops.append(crop_face(image, face["bbox"], settings.emotion_crop_margin))
            except FaceReIDError:  # a box (mostly) outside the image: no crop to score
                continue
            scored.append(index)
        if not crops:
            return [None] * len(faces)

        def call() -> Awaitable[list[dict[str, float]]]:
            if labels is None:
                return self.emotion.to_async.score(crops)  # type: ignore[no-any-return]
            return self.emotion.to_async.score_labels(crops, labels)  # type: ignore[no-any-return]

        try:
            scores = await asyncio.wait_for(
                _with_retries(call, "CLIP call"), timeout=settings.clip_timeout_s
            )
        except Exception as exc:  # CLIP down or slow: answer without emotions
            logger.warning("emotion scoring failed: %s", _describe(exc))
            clip_health.mark_unavailable(f"CLIP call failed: {_describe(exc)}")
            return [None] * len(faces)
        emotions: list[dict[str, float] | None] = [None] * len(faces)
        for index, score in zip(scored, scores, strict=True):
            emotions[index] = score
        return emotions


# -- video helpers (issue 8) --------------------------------------------------------------

video_jobs = video_jobs_mod.VideoJobs(settings.video_result_ttl_s, settings.video_max_jobs)


async def _with_retries(call: Callable[[], Awaitable[T]], what: str, attempts: int = 3) -> T:
    """Retry an idempotent model-service call on a dropped connection.

    BentoML 1.4.40's dependency client replaces its aiohttp session every 100 calls and closes
    the old one under calls still using it ("Connector is closed": 13 of 175 requests failed at
    concurrency 32 in the benchmark), and a restarted CLIP service leaves dead pooled
    connections behind. Both are connection errors; anything else is raised at once.
    """
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except aiohttp.ClientConnectionError as exc:
            if attempt == attempts:
                raise
            logger.info("retrying %s on a fresh connection: %s", what, _describe(exc))
    raise AssertionError("unreachable")


def _same_model(first: str | None, second: str | None) -> None:
    if first is not None and second is not None and first != second:
        raise EmbeddingModelMismatchError(
            f"embeddings come from different models ({first} vs {second}) and are not comparable"
        )


def _checked_labels(labels: list[str] | None) -> list[str] | None:
    from facereid.emotion.crops import validate_labels

    return None if labels is None else list(validate_labels(labels))


def _decode(image_data: str) -> np.ndarray:
    return decode_image_b64(
        image_data, max_side=settings.max_image_side, max_pixels=settings.max_image_pixels
    )


def _error_payload(exc: FaceReIDError) -> dict[str, Any]:
    return {"error": {"code": exc.code, "message": exc.message}}


def _error(exc: FaceReIDError) -> JSONResponse:
    return JSONResponse(status_code=exc.status, content=_error_payload(exc))


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__


# @bentoml.service turned the class into a bentoml Service, which mypy cannot see.
# Registration order is nesting order (first = outermost): ContractMiddleware wraps the
# protection chain, so 401/413/429 get the error contract; /health is served innermost.
FaceReID.add_asgi_middleware(ContractMiddleware)  # type: ignore[attr-defined]
for _middleware, _options in protection_middlewares(settings, get_routes={"/health": _health}):
    FaceReID.add_asgi_middleware(_middleware, **_options)  # type: ignore[attr-defined]

__all__ = ["FaceReID", "FaceModel", "EmotionModel"]
