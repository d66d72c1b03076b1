"""The face service's side of intake: encoded images in, faces in original pixels out.

The API process reads headers and limits only (``facereid.intake.budget``) and sends the
encoded bytes; the face service decodes them next to the model, several at once in a thread
pool (Pillow's JPEG, PNG and WebP decoders release the GIL), at the shipping size
(``facereid.intake.shipping.decode_for_shipping``: reduced JPEG decoding above
``MAX_SHIP_SIDE``). Since the decode is the one ``/analyze`` always used, boxes, keypoints,
landmarks and embeddings are the same as before; only the process that decodes changed. No
decoded image crosses a process boundary except the emotion crops (faces with their margin).

The memory bound moves with the decode: ``ThreadPixelGate`` lets at most
``MAX_CONCURRENT_DECODES`` x ``MAX_IMAGE_PIXELS`` pixels be decoded at once per process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from facereid.config import Settings
from facereid.errors import FaceReIDError
from facereid.faces.records import DetectedFace, FaceRecord, FloatArray
from facereid.intake.budget import header_limits, read_header
from facereid.intake.images import BGRImage
from facereid.intake.shipping import ShippedImage, decode_for_shipping

logger = logging.getLogger(__name__)


class Engine(Protocol):
    def detect(self, images: Sequence[BGRImage]) -> list[list[DetectedFace]]: ...

    def embed(self, images: Sequence[BGRImage], faces: Sequence[DetectedFace]) -> FloatArray: ...

    @property
    def model_info(self) -> Any: ...


@dataclass(frozen=True)
class EncodedRequest:
    """One image for the face service: its encoded bytes and how many of its faces (largest
    first) need emotion crops. Travels as ``to_wire()``'s dict (BentoML pickles it)."""

    raw: bytes
    crops: int = 0

    def to_wire(self) -> dict[str, Any]:
        return {"image": self.raw, "crops": self.crops}

    @classmethod
    def from_wire(cls, data: Any) -> EncodedRequest:
        if not isinstance(data, dict) or not isinstance(data.get("image"), bytes):
            raise TypeError("an encoded request is {'image': bytes, 'crops': int}")
        crops = data.get("crops", 0)
        return cls(data["image"], crops if isinstance(crops, int) and crops > 0 else 0)


class ThreadPixelGate:
    """A weighted semaphore in pixels for threads: decodes wait until their pixels fit, so
    the decoded pixels held at once stay under ``capacity`` (one image alone always fits)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self.in_use = 0
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        weight = min(max(1, pixels), self.capacity)
        with self._cond:
            self._cond.wait_for(lambda: self.in_use + weight <= self.capacity)
            self.in_use += weight
        try:
            yield
        finally:
            with self._cond:
                self.in_use -= weight
                self._cond.notify_all()


class ServiceDecoder:
    """The decode pool and gate of one face service process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.gate = ThreadPixelGate(settings.max_concurrent_decodes * settings.max_image_pixels)
        self.pool = ThreadPoolExecutor(settings.face_decode_threads, "face-decode")

    def decode(self, raw: bytes) -> ShippedImage:
        """Limits checked again (the API's check is not trusted), then a gated decode."""
        header = read_header(raw, **header_limits(self.settings))
        with self.gate.hold(header.decoded_pixels):
            return decode_for_shipping(header, ship_side=self.settings.max_ship_side)

    def decode_or_error(self, raw: bytes) -> ShippedImage | FaceReIDError:
        try:
            return self.decode(raw)
        except FaceReIDError as exc:
            return exc

    def decode_all(self, raws: Sequence[bytes]) -> list[ShippedImage | FaceReIDError]:
        if len(raws) == 1:  # no hand-off to the pool for a lone image
            return [self.decode_or_error(raws[0])]
        return list(self.pool.map(self.decode_or_error, raws))


def analyze_encoded(
    engine: Engine,
    decoder: ServiceDecoder,
    requests: Sequence[EncodedRequest],
    groups: int = 1,
) -> list[dict[str, Any]]:
    """Per request ``{"faces": [FaceRecord wire, original pixels], "crops": [RGB | None]}``
    or ``{"error": {"code", "message"}}``: one image's failure is its own answer.

    With ``groups`` > 1 the batch is split into that many contiguous groups, each decoded,
    detected and embedded on its own thread of the decode pool: on a CPU, a batched ONNX call
    costs what its images cost one by one, so groups side by side (ONNX Runtime and Pillow
    release the GIL) are what uses every core. The answers are the same either way."""
    if groups > 1 and len(requests) > 1:
        size = -(-len(requests) // min(groups, len(requests)))
        chunks = [requests[i : i + size] for i in range(0, len(requests), size)]
        parts = decoder.pool.map(lambda chunk: _analyze(engine, decoder, chunk, False), chunks)
        return [answer for part in parts for answer in part]
    return _analyze(engine, decoder, requests, True)


def _analyze(
    engine: Engine, decoder: ServiceDecoder, requests: Sequence[EncodedRequest], pooled: bool
) -> list[dict[str, Any]]:
    from facereid.emotion.crops import crop_face  # torch-free

    raws = [r.raw for r in requests]
    # inside a group (already on a pool thread) decode in line: waiting on the same pool
    # from its own threads could deadlock
    decoded = decoder.decode_all(raws) if pooled else [decoder.decode_or_error(r) for r in raws]
    ok = [i for i, d in enumerate(decoded) if isinstance(d, ShippedImage)]
    shipped = [d for d in decoded if isinstance(d, ShippedImage)]
    images = [s.image for s in shipped]
    detections = engine.detect(images) if images else []
    owners = [k for k, faces in enumerate(detections) for _ in faces]
    flat = [face for faces in detections for face in faces]
    embeddings = (
        engine.embed([images[k] for k in owners], flat)
        if flat
        else np.zeros((0, engine.model_info.embedding_dim), np.float32)
    )
    records: list[list[FaceRecord]] = [[] for _ in images]
    for row, (owner, found) in enumerate(zip(owners, flat, strict=True)):
        records[owner].append(FaceRecord.from_detection(found, embeddings[row]))
    answers: list[dict[str, Any]] = [
        error_to_wire(d) if isinstance(d, FaceReIDError) else {} for d in decoded
    ]
    margin = decoder.settings.emotion_crop_margin
    for k, index in enumerate(ok):
        faces, image = records[k], shipped[k]
        crops: list[np.ndarray | None] = []
        for record in faces[: requests[index].crops]:
            try:  # boxes in the shipped image's pixels, as the crops always were
                crops.append(crop_face(image.image, list(record.bbox), margin))
            except FaceReIDError:  # a box (mostly) outside the image: no crop to score
                crops.append(None)
        answers[index] = {
            "faces": [image.to_original(record).to_wire() for record in faces],
            "crops": crops,
        }
    return answers


def error_to_wire(exc: FaceReIDError) -> dict[str, Any]:
    return {"error": {"code": exc.code, "message": exc.message}}


def _subclasses(cls: type[FaceReIDError]) -> Iterator[type[FaceReIDError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def error_from_wire(error: dict[str, Any]) -> FaceReIDError:
    """The face service's per-image error as the same ``FaceReIDError`` type (same code)."""
    code, message = str(error.get("code")), str(error.get("message", ""))
    for cls in _subclasses(FaceReIDError):
        if cls.code == code:
            return cls(message)
    return FaceReIDError(message)
