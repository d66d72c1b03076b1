"""FaceReID: the API service. Routes, request handling and composition only; the maths lives
in ``facereid`` and the models in ``runners``.

``bentoml serve service:FaceReID`` starts this service and its model services. With
``CLIP_SERVICE_URL`` set, emotions come from that separately deployed CLIP service instead.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

import anyio
import bentoml
import numpy as np
from pydantic import Field
from starlette.responses import JSONResponse

from facereid import matching
from facereid.asgi import ContractMiddleware
from facereid.clip_health import ClipHealth
from facereid.config import get_settings
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
from facereid.imaging import decode_image_b64
from facereid.responses import face_payload, utc_timestamp
from runners.emotion import EmotionModel
from runners.face import FaceModel

logger = logging.getLogger("facereid.service")
settings = get_settings()
clip_health = ClipHealth()
_service_state: dict[str, Any] = {}


async def _health() -> tuple[int, dict[str, Any]]:
    service = _service_state.get("instance")
    if service is None:
        return 503, {"status": "starting", "clip_service": "unknown"}
    return 200, await service.health_payload()


@bentoml.service(
    name="FaceReID",
    workers=1,
    traffic={"timeout": 120, "max_concurrency": 256},
    http={"port": 3000},
)
class FaceReID:
    face = bentoml.depends(FaceModel)
    emotion = bentoml.depends(EmotionModel, url=settings.clip_service_url)

    def __init__(self) -> None:
        self.model_info: dict[str, Any] | None = None
        self._poller: asyncio.Task[None] | None = None
        _service_state["instance"] = self

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
    ) -> Any:
        try:
            labels = _checked_labels(emotion_labels)
            return await self._analyze_one(image_data, return_all_faces, include_emotions, labels)
        except FaceReIDError as exc:
            return _error(exc)

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
                return {"error": {"code": exc.code, "message": exc.message}}

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
        target_embedding: list[float],
        embeddings: list[list[float]],
        threshold: float = 0.5,
        top_k: int | None = None,
        target_model: str | None = None,
        embeddings_model: str | None = None,
    ) -> Any:
        try:
            _same_model(target_model, embeddings_model)
            if len(embeddings) > settings.max_gallery_rows:
                limit = settings.max_gallery_rows
                raise TooManyRowsError(f"{len(embeddings)} rows; the limit is {limit}")
            target = matching.validate_embedding(target_embedding, name="target_embedding")
            matches = matching.find_matches(target, embeddings, threshold=threshold, top_k=top_k)
        except FaceReIDError as exc:
            return _error(exc)
        return [{"index": i, "similarity": s} for i, s in matches]

    # -- composition ----------------------------------------------------------------------

    async def _analyze_one(
        self,
        image_data: str,
        return_all_faces: bool,
        include_emotions: bool,
        emotion_labels: list[str] | None,
    ) -> dict[str, Any]:
        """Labels must already be validated (``_checked_labels``)."""
        image = await anyio.to_thread.run_sync(_decode, image_data)
        model = await self._face_model()
        faces = await self._detect_embed(image)
        if not faces:
            raise NoFaceError("no face found in the image")
        wanted = faces if return_all_faces else faces[:1]
        emotions: list[dict[str, float] | None] = [None] * len(wanted)
        if include_emotions:
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
                self.face.to_async.detect_embed([image]), timeout=settings.face_timeout_s
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
        from facereid.emotion import crop_face

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
        try:
            call = (
                self.emotion.to_async.score(crops)
                if labels is None
                else self.emotion.to_async.score_labels(crops, labels)
            )
            scores = await asyncio.wait_for(call, timeout=settings.clip_timeout_s)
        except Exception as exc:  # CLIP down or slow: answer without emotions
            logger.warning("emotion scoring failed: %s", _describe(exc))
            clip_health.mark_unavailable(f"CLIP call failed: {_describe(exc)}")
            return [None] * len(faces)
        emotions: list[dict[str, float] | None] = [None] * len(faces)
        for index, score in zip(scored, scores, strict=True):
            emotions[index] = score
        return emotions


def _same_model(first: str | None, second: str | None) -> None:
    if first is not None and second is not None and first != second:
        raise EmbeddingModelMismatchError(
            f"embeddings come from different models ({first} vs {second}) and are not comparable"
        )


def _checked_labels(labels: list[str] | None) -> list[str] | None:
    from facereid.emotion import validate_labels

    return None if labels is None else list(validate_labels(labels))


def _decode(image_data: str) -> np.ndarray:
    return decode_image_b64(
        image_data, max_side=settings.max_image_side, max_pixels=settings.max_image_pixels
    )


def _error(exc: FaceReIDError) -> JSONResponse:
    return JSONResponse(
        status_code=exc.status, content={"error": {"code": exc.code, "message": exc.message}}
    )


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__


# @bentoml.service turned the class into a bentoml Service, which mypy cannot see.
FaceReID.add_asgi_middleware(  # type: ignore[attr-defined]
    ContractMiddleware, get_routes={"/health": _health}
)

__all__ = ["FaceReID", "FaceModel", "EmotionModel"]
