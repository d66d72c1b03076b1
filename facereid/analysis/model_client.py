"""The BentoML-backed clients of the model services: ``FaceServiceClient`` and
``EmotionServiceClient`` implement ``facereid.wire.clients``' protocols with timeouts,
retries on dropped connections, and the CLIP health they feed.

The BentoML dependency handles come in from ``service.py`` (anything with ``to_async``), so
this module imports no BentoML and a test can hand in fakes of the handles.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import numpy as np

from facereid.config import Settings
from facereid.emotion.clip_health import ClipHealth
from facereid.errors import ModelOverloadedError, ModelTimeoutError
from facereid.faces.records import FaceRecord
from facereid.intake.budget import ImageHeader
from facereid.ops import metrics
from facereid.wire.emotion import ClipStatus
from facereid.wire.faces import (
    Crop,
    Emotions,
    EncodedRequest,
    FaceModelInfo,
    FacesAnswer,
    FacesWire,
    FaceWire,
    answer_from_wire,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")
CLIP_STARTUP_POLL_S = 0.5  # poll period until CLIP first answers ...
CLIP_STARTUP_WINDOW_S = 120.0  # ... for at most this long after start-up
# /health's reasons are read by people (the console shows them): sentences, never an exception
# class or its text (which can name internal hosts; the log has both).
CLIP_STARTING = "the CLIP service has not answered yet (starting); emotions are off until it does"
CLIP_NOT_ANSWERING = (
    "the CLIP service is not answering (is it running, and CLIP_SERVICE_URL right?); "
    "emotions are off until it answers"
)
CLIP_CALL_FAILED = "a call to the CLIP service failed; emotions are off until it answers again"


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
    # imported here, where BentoML's client has loaded it already: service.py's imports run in
    # every service process at start, and only the API process calls other services
    import aiohttp

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


class FaceServiceClient:
    """``FaceClient`` over the face service. ``overloaded`` is the exception type the
    dependency raises when the service sheds load (``bentoml.exceptions.ServiceUnavailable``),
    answered as 503 ``overloaded``."""

    def __init__(
        self, settings: Settings, face: Dependency, overloaded: type[BaseException]
    ) -> None:
        self.settings = settings
        self.face = face
        self.overloaded = overloaded
        self._info: FaceModelInfo | None = None

    async def model_info(self) -> FaceModelInfo:
        if self._info is None:
            self._info = info = FaceModelInfo.model_validate(await self.face.to_async.info())
            metrics.set_model_info(info.engine, info.name, info.synthetic)
        return self._info

    async def analyze_encoded(
        self,
        header: ImageHeader,
        crops: int,
        attributes: bool = False,
        crop_margin: float | None = None,
    ) -> FacesAnswer:
        """The encoded image to the face service, which decodes it next to the model (with
        ``attributes``, its faces' age, gender and pose too)."""
        request = EncodedRequest(
            raw=header.raw, crops=crops, attributes=attributes, crop_margin=crop_margin
        )
        answers = await self._call(lambda: self.face.to_async.analyze_encoded([request]))
        return answer_from_wire(FacesWire.model_validate(answers[0]))

    async def detect_embed(self, image: np.ndarray) -> list[FaceRecord]:
        """A decoded image (the video pipeline's frames) to the face service."""
        batch = await self._call(lambda: self.face.to_async.detect_embed([image]))
        return [FaceWire.model_validate(face).record() for face in batch[0]]

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        timeout = self.settings.face_timeout_s
        try:
            return await asyncio.wait_for(with_retries(call, "face call"), timeout=timeout)
        except TimeoutError as exc:
            raise ModelTimeoutError(f"face model did not answer within {timeout:g} s") from exc
        except self.overloaded as exc:
            raise ModelOverloadedError("face model is overloaded; retry later") from exc


class EmotionServiceClient:
    """``EmotionClient`` over the CLIP service (local, or remote by ``CLIP_SERVICE_URL``),
    and the poller that keeps ``clip_health`` fresh."""

    def __init__(self, settings: Settings, emotion: Dependency, clip_health: ClipHealth) -> None:
        self.settings = settings
        self.emotion = emotion
        self.clip_health = clip_health
        self._clip_failures = 0  # health checks failed in a row
        self.clip_answered = False  # CLIP has answered a health check since start-up
        self._clip_said: str | None = None  # the CLIP state the log last reported

    def available(self) -> bool:
        return self.clip_health.available

    def status(self) -> ClipStatus | None:
        if not self.clip_health.available:
            return None
        return ClipStatus.model_validate(self.clip_health.detail)

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
            self.clip_health.mark_unavailable(CLIP_CALL_FAILED)
            return None
        return scores

    async def check_clip(self, starting: bool = False) -> None:
        """Refresh ``clip_health``; the log says each change of state once, not every poll.
        ``starting``: CLIP has not answered yet since start-up, a failure is expected and
        only logged at DEBUG (the poller retries quickly then)."""
        try:
            answer = await asyncio.wait_for(
                self.emotion.to_async.health(), timeout=self.settings.clip_timeout_s
            )
            status = ClipStatus.model_validate(answer)
        except Exception as exc:  # any failure to reach CLIP means "unavailable"
            if starting:
                logger.debug("CLIP not answering yet at start-up: %s", describe(exc))
                self.clip_health.mark_unavailable(CLIP_STARTING)
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
            self.clip_health.mark_unavailable(CLIP_NOT_ANSWERING)
            self._clip_said = None
            return
        self._clip_failures = 0
        self.clip_answered = True
        if status.available:
            if self._clip_said != "available":
                logger.info(
                    "emotion model available (%s, engine %s): emotions are scored",
                    status.model,
                    status.engine or "clip",
                )
            self._clip_said = "available"
            self.clip_health.mark_available(status.model_dump())
            return
        reason = status.reason or "CLIP model not loaded"
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
