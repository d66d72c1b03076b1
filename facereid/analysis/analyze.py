"""``/analyze`` and ``/analyze_batch``: headers read here, the encoded image decoded, detected
and embedded in the face service, emotions scored by CLIP, the answer shaped here.

``Analyzer`` holds the typed clients of both services (``facereid.wire.clients``): the served
path and the unit tests' path are the same one, with fakes of the clients in the tests.
Galleries reach the face service through ``Analyzer.faces_of``, the same intake and call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from facereid.analysis.cache import AnalysisCache, cacheable
from facereid.analysis.options import AnalyzeOptions, checked_labels
from facereid.analysis.responses import face_payload, utc_timestamp
from facereid.config import Settings
from facereid.errors import BatchTooLargeError, EmptyBatchError, FaceReIDError, NoFaceError
from facereid.faces.records import FaceRecord
from facereid.intake.budget import ImageHeader
from facereid.intake.shipping import image_header, plan_images
from facereid.ops import metrics
from facereid.wire.clients import EmotionClient, FaceClient
from facereid.wire.emotion import ClipStatus
from facereid.wire.errors import contract_body
from facereid.wire.faces import Emotions, FaceModelInfo, FacesAnswer

ALL_FACES = 1_000_000  # "crop every face" for the face service
__all__ = [
    "ALL_FACES",
    "AnalyzeOptions",
    "Analyzer",
    "check_batch",
    "check_engine_labels",
    "checked_labels",
]


class Analyzer:
    """The /analyze path: one per API process, shared by the routes and the galleries."""

    def __init__(
        self,
        settings: Settings,
        faces: FaceClient,
        emotions: EmotionClient,
        cache: AnalysisCache | None = None,
    ) -> None:
        self.settings = settings
        self.faces = faces
        self.emotions = emotions
        self.cache = cache

    async def faces_of(
        self, image_data: str | ImageHeader, crops: int = 0, attributes: bool = False
    ) -> tuple[ImageHeader, FacesAnswer]:
        """Header and limits here (no pixel decoded in this process), then the face service."""
        with metrics.stage_timer("decode"):
            header = await image_header(image_data, self.settings)
        with metrics.stage_timer("detect_embed"):
            return header, await self.faces.analyze_encoded(header, crops, attributes=attributes)

    async def analyze(
        self,
        image_data: str | ImageHeader,
        options: AnalyzeOptions,
        tenant: str,
    ) -> dict[str, Any]:
        """The seed's /analyze answer: the primary face (the service's first, the largest:
        see ``facereid.faces.ordering``) at the top level, ``num_faces``, and with
        ``return_all_faces`` every face in ``faces``. Raises ``NoFaceError`` on no face; bad
        labels raise before any model work; a repeated image may come from the cache."""
        options = options.checked()
        emotion = self.emotions.status() if options.include_emotions else None
        check_engine_labels(emotion, options.emotion_labels)
        with metrics.stage_timer("decode"):  # header and limits only; the decode is remote
            header = await image_header(image_data, self.settings)
        model = await self.faces.model_info()
        # While CLIP is down a fresh answer has no emotions; the cache must not answer with
        # the emotions of before, so lookups that want emotions are skipped then.
        cache = self.cache
        if options.include_emotions and not self.emotions.available():
            cache = None
        key = None
        if cache is not None:
            key = cache.key(
                header.raw,
                tenant=tenant,
                model=model,
                options=options,
                emotion_model=None if emotion is None else emotion.model,
            )
            cached = await cache.get(key)
            if cached is not None:
                return cached
        wanted_crops = 0  # crops for the faces the answer shows emotions for
        if options.include_emotions:
            wanted_crops = ALL_FACES if options.return_all_faces else 1
        with metrics.stage_timer("detect_embed"):
            remote = await self.faces.analyze_encoded(
                header,
                wanted_crops,
                attributes=options.include_attributes,
                crop_margin=None if emotion is None else emotion.crop_margin,
            )

        async def score(wanted: list[FaceRecord]) -> list[Emotions]:
            crops = remote.crops[: len(wanted)]
            return await self.emotions.score_crops(crops, options.emotion_labels)

        tag = None if emotion is None else emotion.model
        result = await _answer(remote.faces, model, options, score, tag)
        if cache is not None and key is not None and cacheable(result, options):
            await cache.set(key, result)
        return result

    async def analyze_batch(
        self,
        images: Sequence[str],
        options: AnalyzeOptions,
        tenant: str,
    ) -> dict[str, Any]:
        """One result per image, in order; an image's own failure is its entry's ``error``
        (the batch still answers 200). Raises on an empty or oversized batch
        (``check_batch``), then on bad labels, before any image is read."""
        check_batch(images, self.settings.max_batch_images)
        options = options.checked()
        if options.include_emotions:
            check_engine_labels(self.emotions.status(), options.emotion_labels)

        async def one(planned: ImageHeader | FaceReIDError) -> dict[str, Any]:
            try:
                if isinstance(planned, FaceReIDError):  # over the request's pixel budget, ...
                    raise planned
                return await self.analyze(planned, options, tenant)
            except FaceReIDError as exc:
                return contract_body(exc)

        # headers first, one pixel budget per request (facereid.intake.budget)
        plans = await plan_images(list(images), self.settings)
        # Concurrent calls let the model services batch these images with other requests'.
        results = await asyncio.gather(*(one(planned) for planned in plans))
        return {"results": list(results), "count": len(results)}


async def _answer(
    faces: list[FaceRecord],
    model: FaceModelInfo,
    options: AnalyzeOptions,
    score: Callable[[list[FaceRecord]], Awaitable[list[Emotions]]],
    emotion_model: str | None = None,
) -> dict[str, Any]:
    """The answer from the faces the service found (largest first, original pixels):
    ``NoFaceError`` on none, emotions (``score``) for the primary face or all of them, then
    the primary face at the top level, ``num_faces``, and ``faces`` when all were asked for."""
    metrics.observe_faces(len(faces))
    if not faces:
        raise NoFaceError("no face found in the image")
    wanted = faces if options.return_all_faces else faces[:1]
    emotions: list[Emotions] = [None] * len(wanted)
    if options.include_emotions:
        with metrics.stage_timer("emotions"):
            emotions = await score(wanted)
    timestamp = utc_timestamp()
    payloads = [
        face_payload(
            face,
            emotions=emo,
            emotion_model=None if emo is None else emotion_model,
            model=model,
            timestamp=timestamp,
            attributes=options.include_attributes,
        )
        for face, emo in zip(wanted, emotions, strict=True)
    ]
    result = dict(payloads[0])
    result["num_faces"] = len(faces)
    if options.return_all_faces:
        result["faces"] = payloads
    return result


def check_engine_labels(status: ClipStatus | None, labels: list[str] | None) -> None:
    """A request's labels against an engine with fixed classes (fer), before any model work:
    a subset is fine (its answer is renormalised), any other label is a 422
    (``unsupported_emotion_labels``). CLIP, or no engine at hand, takes any labels."""
    if status is None or status.fixed_labels is None or labels is None:
        return
    from facereid.emotion.crops import subset_labels  # torch-free

    subset_labels(labels, status.fixed_labels)


def check_batch(images: Sequence[str], max_images: int) -> None:
    """An empty or oversized batch is refused before its labels are even looked at."""
    if not images:
        raise EmptyBatchError("images must hold at least one image")
    if len(images) > max_images:
        raise BatchTooLargeError(f"{len(images)} images in one batch; the limit is {max_images}")
