"""``/analyze`` and ``/analyze_batch`` composition: decode, detect and embed, score emotions,
shape the answer. The model services come in as ``AnalysisCalls`` (as the video pipeline's
``ModelCalls``), so this runs in a unit test with plain async functions and no server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from facereid.analysis.responses import error_payload, face_payload, utc_timestamp
from facereid.errors import BatchTooLargeError, EmptyBatchError, FaceReIDError, NoFaceError
from facereid.faces.records import FaceRecord
from facereid.intake.budget import ImageHeader
from facereid.intake.shipping import ShippedImage
from facereid.ops import metrics
from facereid.web.tenancy import DEFAULT_TENANT

if TYPE_CHECKING:
    from facereid.analysis.cache import AnalysisCache

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in the decoded image's pixels
Emotions = dict[str, float] | None
# An image of a batch after planning: its header (or, in tests, the raw data) or its own error.
Planned = ImageHeader | str | FaceReIDError
ALL_FACES = 1_000_000  # "crop every face" for the face service
Crop = np.ndarray | None  # an RGB face crop for CLIP, or None where the box had no crop


@dataclass(frozen=True)
class RemoteFaces:
    """The face service's answer for one encoded image: faces in original pixels (largest
    first) and the emotion crops it was asked for (``facereid.intake.service_decode``)."""

    faces: list[FaceRecord]
    crops: list[Crop]


@dataclass
class EncodedCalls:
    """The serving path (issue 15): headers here, decode next to the model. The API process
    never holds the decoded image; ``cache`` answers repeated images."""

    read_header: Callable[[str | ImageHeader], Awaitable[ImageHeader]]
    analyze_encoded: Callable[[ImageHeader, int], Awaitable[RemoteFaces]]
    score_crops: Callable[[list[Crop], list[str] | None], Awaitable[list[Emotions]]]
    cache: AnalysisCache | None = None
    # While CLIP is down a fresh answer has no emotions; the cache must not answer with the
    # emotions of before, so lookups that want emotions are skipped then.
    clip_available: Callable[[], bool] = lambda: True


@dataclass
class AnalysisCalls:
    """What one analysis needs from outside: image decoding (CPU-bound, run off the event
    loop by the caller's implementation; images above the shipping bound come back smaller,
    ``facereid.intake.shipping``), a batch's intake plan (one pixel budget per request,
    ``facereid.intake.budget``) and the two model services."""

    decode: Callable[[str | ImageHeader], Awaitable[ShippedImage]]
    face_model: Callable[[], Awaitable[dict[str, Any]]]
    detect_embed: Callable[[np.ndarray], Awaitable[list[FaceRecord]]]
    # Emotion scores per box (None where no crop could be scored); an empty or failed CLIP
    # call answers ``[None] * len(boxes)`` rather than raising: emotions are optional.
    emotions: Callable[[np.ndarray, list[Box], list[str] | None], Awaitable[list[Emotions]]]
    plan_batch: Callable[[list[str]], Awaitable[Sequence[Planned]]]
    # When set, images go to the face service encoded (the decode above is then unused).
    encoded: EncodedCalls | None = None


@dataclass(frozen=True)
class AnalyzeOptions:
    return_all_faces: bool = False
    include_emotions: bool = True
    emotion_labels: list[str] | None = None  # raw; ``checked()`` validates and cleans them

    def checked(self) -> AnalyzeOptions:
        """These options with the labels validated (``InvalidLabelsError`` otherwise)."""
        labels = checked_labels(self.emotion_labels)
        return AnalyzeOptions(self.return_all_faces, self.include_emotions, labels)


def checked_labels(labels: Sequence[str] | None) -> list[str] | None:
    """Per-request emotion labels, validated before any model work (a bad label list
    answers 422 without decoding the image)."""
    from facereid.emotion.crops import validate_labels  # torch-free

    return None if labels is None else list(validate_labels(list(labels)))


async def analyze_image(
    calls: AnalysisCalls,
    image_data: str | ImageHeader,
    options: AnalyzeOptions,
    tenant: str = DEFAULT_TENANT,
) -> dict[str, Any]:
    """The seed's /analyze answer: the primary face (the service's first, the largest: see
    ``facereid.faces.ordering``) at the top level, ``num_faces``, and with
    ``return_all_faces`` every face in ``faces``. Raises ``NoFaceError`` on no face; bad
    labels raise before any model work."""
    options = options.checked()
    if calls.encoded is not None:
        return await _analyze_encoded(calls, calls.encoded, image_data, options, tenant)
    with metrics.stage_timer("decode"):
        shipped = await calls.decode(image_data)
    image = shipped.image
    model = await calls.face_model()
    with metrics.stage_timer("detect_embed"):
        faces = await calls.detect_embed(image)

    async def score(wanted: list[FaceRecord]) -> list[Emotions]:
        boxes = [face.bbox for face in wanted]  # in the shipped image's pixels
        return await calls.emotions(image, boxes, options.emotion_labels)

    return await _answer(faces, model, options, score, shipped.to_original)


async def _analyze_encoded(
    calls: AnalysisCalls,
    encoded: EncodedCalls,
    image_data: str | ImageHeader,
    options: AnalyzeOptions,
    tenant: str,
) -> dict[str, Any]:
    from facereid.analysis.cache import cacheable

    with metrics.stage_timer("decode"):  # header and limits only; the decode is remote
        header = await encoded.read_header(image_data)
    model = await calls.face_model()
    cache, key = encoded.cache, None
    if options.include_emotions and not encoded.clip_available():
        cache = None
    if cache is not None:
        key = cache.key(header.raw, tenant=tenant, model=model, options=options)
        cached = await cache.get(key)
        if cached is not None:
            return cached
    wanted_crops = 0  # crops for the faces the answer shows emotions for
    if options.include_emotions:
        wanted_crops = ALL_FACES if options.return_all_faces else 1
    with metrics.stage_timer("detect_embed"):
        remote = await encoded.analyze_encoded(header, wanted_crops)

    async def score(wanted: list[FaceRecord]) -> list[Emotions]:
        return await encoded.score_crops(remote.crops[: len(wanted)], options.emotion_labels)

    result = await _answer(remote.faces, model, options, score)
    if cache is not None and key is not None and cacheable(result, options):
        await cache.set(key, result)
    return result


async def _answer(
    faces: list[FaceRecord],
    model: dict[str, Any],
    options: AnalyzeOptions,
    score: Callable[[list[FaceRecord]], Awaitable[list[Emotions]]],
    to_original: Callable[[FaceRecord], FaceRecord] = lambda face: face,
) -> dict[str, Any]:
    """Both paths' answer from the faces the service found (largest first): ``NoFaceError``
    on none, emotions (``score``) for the primary face or all of them, then the primary face
    at the top level, ``num_faces``, and ``faces`` when all were asked for, in original
    pixels (``to_original``)."""
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
        face_payload(to_original(face), emotions=emo, model=model, timestamp=timestamp)
        for face, emo in zip(wanted, emotions, strict=True)
    ]
    result = dict(payloads[0])
    result["num_faces"] = len(faces)
    if options.return_all_faces:
        result["faces"] = payloads
    return result


def check_batch(images: Sequence[str], max_images: int) -> None:
    """An empty or oversized batch is refused before its labels are even looked at."""
    if not images:
        raise EmptyBatchError("images must hold at least one image")
    if len(images) > max_images:
        raise BatchTooLargeError(f"{len(images)} images in one batch; the limit is {max_images}")


async def analyze_batch(
    calls: AnalysisCalls,
    images: Sequence[str],
    options: AnalyzeOptions,
    max_images: int,
    tenant: str = DEFAULT_TENANT,
) -> dict[str, Any]:
    """One result per image, in order; an image's own failure is its entry's ``error``
    (the batch still answers 200). Raises on an empty or oversized batch (``check_batch``),
    then on bad labels, before any image is decoded."""
    check_batch(images, max_images)
    options = options.checked()

    async def one(planned: Planned) -> dict[str, Any]:
        try:
            if isinstance(planned, FaceReIDError):  # over the request's pixel budget, ...
                raise planned
            return await analyze_image(calls, planned, options, tenant)
        except FaceReIDError as exc:
            return error_payload(exc)

    plans = await calls.plan_batch(list(images))  # headers first, one budget per request
    # Concurrent calls let the model services batch these images with other requests'.
    results = await asyncio.gather(*(one(planned) for planned in plans))
    return {"results": list(results), "count": len(results)}
