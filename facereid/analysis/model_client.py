"""The API service's calls to its model services: timeouts, retries on dropped connections,
and the CLIP health they feed.

The BentoML dependency handles come in from ``service.py`` (anything with ``to_async``), so
this module imports no BentoML and a test can hand in fakes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import aiohttp
import numpy as np

from facereid.analysis.analyze import AnalysisCalls, Box, Crop, Emotions, EncodedCalls, RemoteFaces
from facereid.analysis.cache import AnalysisCache
from facereid.config import Settings
from facereid.emotion.clip_health import ClipHealth
from facereid.errors import FaceReIDError, ModelOverloadedError, ModelTimeoutError
from facereid.faces.records import FaceRecord
from facereid.intake.budget import ImageHeader
from facereid.intake.service_decode import EncodedRequest, error_from_wire
from facereid.intake.shipping import ShippedImage, image_header, load_image, plan_images
from facereid.ops import metrics

logger = logging.getLogger(__name__)
T = TypeVar("T")
CLIP_STARTUP_POLL_S = 0.5  # poll period until CLIP first answers ...
CLIP_STARTUP_WINDOW_S = 120.0  # ... for at most this long after start-up


class Dependency(Protocol):
    """A ``bentoml.depends(...)`` handle: ``to_async.<api>(...)`` is the remote call."""

    @property
    def to_async(self) -> Any: ...


async def with_retries(call: Callable[[], Awaitable[T]], what: str, attempts: int = 3) -> T:
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
            logger.info("retrying %s on a fresh connection: %s", what, describe(exc))
    raise AssertionError("unreachable")


def describe(exc: BaseException) -> str:
    """Exception type and first line, for logs only: the text can name internal hosts."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__


class ModelClient:
    """Calls to the face and CLIP services as ``AnalysisCalls`` and the video ``ModelCalls``
    need them. ``overloaded`` is the exception type the dependency raises when the service
    sheds load (``bentoml.exceptions.ServiceUnavailable``), answered as 503 ``overloaded``."""

    def __init__(
        self,
        settings: Settings,
        face: Dependency,
        emotion: Dependency,
        clip_health: ClipHealth,
        overloaded: type[BaseException],
    ) -> None:
        self.settings = settings
        self.face = face
        self.emotion = emotion
        self.clip_health = clip_health
        self.overloaded = overloaded
        self.model_info: dict[str, Any] | None = None
        self._clip_failures = 0  # health checks failed in a row
        self.clip_answered = False  # CLIP has answered a health check since start-up
        self._clip_said: str | None = None  # the CLIP state the log last reported
        self.cache = AnalysisCache.from_settings(settings)

    def analysis_calls(self) -> AnalysisCalls:
        encoded = EncodedCalls(
            self.read_header,
            self.analyze_encoded,
            self.score_crops,
            self.cache,
            lambda: self.clip_health.available,
        )
        return AnalysisCalls(
            self.decode, self.face_model, self.detect_embed, self.emotions, self.plan_batch, encoded
        )

    async def read_header(self, data: str | ImageHeader) -> ImageHeader:
        """Base64 and header checks off the event loop; no pixel is decoded here."""
        return await image_header(data, self.settings)

    async def analyze_encoded(self, header: ImageHeader, crops: int) -> RemoteFaces:
        """The encoded image to the face service, which decodes it next to the model."""
        wire = EncodedRequest(header.raw, crops).to_wire()
        answer = (await self._face_call(lambda: self.face.to_async.analyze_encoded([wire])))[0]
        if "error" in answer:
            raise error_from_wire(answer["error"])
        faces = [FaceRecord.from_wire(face) for face in answer["faces"]]
        return RemoteFaces(faces, list(answer.get("crops", [])))

    async def _face_call(self, call: Callable[[], Awaitable[T]]) -> T:
        timeout = self.settings.face_timeout_s
        try:
            return await asyncio.wait_for(with_retries(call, "face call"), timeout=timeout)
        except TimeoutError as exc:
            raise ModelTimeoutError(f"face model did not answer within {timeout:g} s") from exc
        except self.overloaded as exc:
            raise ModelOverloadedError("face model is overloaded; retry later") from exc

    async def score_crops(self, crops: list[Crop], labels: list[str] | None) -> list[Emotions]:
        """Scores per crop; ``None`` for a missing crop and everywhere when CLIP is
        unavailable or fails (the answer degrades, it does not fail)."""
        present = [crop for crop in crops if crop is not None]
        if not self.clip_health.available or not present:
            return [None] * len(crops)
        scores = await self._score(present, labels)
        if scores is None:
            return [None] * len(crops)
        it = iter(scores)
        return [None if crop is None else next(it) for crop in crops]

    async def decode(self, image_data: str | ImageHeader) -> ShippedImage:
        """Header and limits, then a gated decode at the shipping size."""
        return await load_image(image_data, self.settings)

    async def plan_batch(self, images: list[str]) -> list[ImageHeader | FaceReIDError]:
        return await plan_images(images, self.settings)

    async def face_model(self) -> dict[str, Any]:
        if self.model_info is None:
            self.model_info = info = await self.face.to_async.info()
            metrics.set_model_info(info["engine"], str(info.get("name")), info["synthetic"])
        return self.model_info

    async def detect_embed(self, image: np.ndarray) -> list[FaceRecord]:
        """A decoded image (the video pipeline's frames) to the face service."""
        batch = await self._face_call(lambda: self.face.to_async.detect_embed([image]))
        return [FaceRecord.from_wire(face) for face in batch[0]]

    async def emotions(
        self, image: np.ndarray, boxes: list[Box], labels: list[str] | None = None
    ) -> list[Emotions]:
        """Scores per box; ``None`` everywhere when CLIP is unavailable or fails (the answer
        degrades, it does not fail), ``None`` for a box with no crop inside the image."""
        from facereid.emotion.crops import crop_face  # torch-free

        if not self.clip_health.available:
            return [None] * len(boxes)
        crops, scored = [], []
        for index, box in enumerate(boxes):
            try:
                crops.append(crop_face(image, list(box), self.settings.emotion_crop_margin))
            except FaceReIDError:  # a box (mostly) outside the image: no crop to score
                continue
            scored.append(index)
        if not crops:
            return [None] * len(boxes)
        scores = await self._score(crops, labels)
        if scores is None:
            return [None] * len(boxes)
        emotions: list[Emotions] = [None] * len(boxes)
        for index, score in zip(scored, scores, strict=True):
            emotions[index] = score
        return emotions

    async def _score(
        self, crops: list[np.ndarray], labels: list[str] | None
    ) -> list[dict[str, float]] | None:
        """CLIP's scores for the crops; None when CLIP fails (and marked unavailable)."""

        def call() -> Awaitable[list[dict[str, float]]]:
            if labels is None:
                return self.emotion.to_async.score(crops)  # type: ignore[no-any-return]
            return self.emotion.to_async.score_labels(crops, labels)  # type: ignore[no-any-return]

        try:
            scores = await asyncio.wait_for(
                with_retries(call, "CLIP call"), timeout=self.settings.clip_timeout_s
            )
        except Exception as exc:  # CLIP down or slow: answer without emotions
            logger.warning("emotion scoring failed: %s", describe(exc))
            self.clip_health.mark_unavailable(f"CLIP call failed ({type(exc).__name__})")
            return None
        return scores

    async def check_clip(self, starting: bool = False) -> None:
        """Refresh ``clip_health``; the log says each change of state once, not every poll.
        ``starting``: CLIP has not answered yet since start-up, a failure is expected and
        only logged at DEBUG (the poller retries quickly then)."""
        try:
            detail = await asyncio.wait_for(
                self.emotion.to_async.health(), timeout=self.settings.clip_timeout_s
            )
        except Exception as exc:  # any failure to reach CLIP means "unavailable"
            if starting:
                logger.debug("CLIP not answering yet at start-up: %s", describe(exc))
                self.clip_health.mark_unavailable(
                    f"CLIP service not reachable ({type(exc).__name__})"
                )
                return
            # One failure is logged at INFO: the first poll can run before BentoML has set
            # up the dependency's client (an AttributeError for the route at start-up).
            # The second in a row is a warning; more of the same say nothing new.
            self._clip_failures += 1
            if self._clip_failures <= 2:
                level = logging.WARNING if self._clip_failures > 1 else logging.INFO
                logger.log(
                    level,
                    "CLIP health check failed (%d in a row): %s",
                    self._clip_failures,
                    describe(exc),
                )
            self.clip_health.mark_unavailable(f"CLIP service not reachable ({type(exc).__name__})")
            self._clip_said = None
            return
        self._clip_failures = 0
        self.clip_answered = True
        if detail.get("available"):
            if self._clip_said != "available":
                logger.info("CLIP model available: emotions are scored")
            self._clip_said = "available"
            self.clip_health.mark_available(detail)
            return
        reason = str(detail.get("reason") or "CLIP model not loaded")
        if self._clip_said != reason:  # said once, plainly, until the state changes
            logger.warning("no CLIP model is loaded, so emotions are null: %s", reason)
        self._clip_said = reason
        self.clip_health.mark_unavailable(reason)

    async def poll_clip(self) -> None:
        """Forever: keep ``clip_health`` fresh (started by the service on startup). Until CLIP
        first answers (at most ``CLIP_STARTUP_WINDOW_S``) it polls every ``CLIP_STARTUP_POLL_S``,
        so /health turns healthy as soon as CLIP does, not one interval later (issue 25: it said
        degraded for 15-25 s because the first polls ran before the dependency's client)."""
        started = time.monotonic()
        interval = self.settings.clip_health_interval_s
        while True:
            starting = not self.clip_answered and time.monotonic() - started < CLIP_STARTUP_WINDOW_S
            await self.check_clip(starting=starting)
            quick = starting and not self.clip_answered
            await asyncio.sleep(min(CLIP_STARTUP_POLL_S, interval) if quick else interval)
