"""The face service's side of intake: encoded images decoded next to the model.

The API process reads headers and limits only (``facereid.intake.budget``) and sends the
encoded bytes; the face service decodes them here, several at once in a thread pool
(Pillow's JPEG, PNG and WebP decoders release the GIL), at the shipping size
(``facereid.intake.shipping.decode_for_shipping``: reduced JPEG decoding above
``MAX_SHIP_SIDE``). ``facereid.faces.pipeline`` runs the decoded images through the model.
No decoded image crosses a process boundary except the emotion crops (faces with their margin).

The memory bound moves with the decode: ``ThreadPixelGate`` lets at most
``MAX_CONCURRENT_DECODES`` x ``MAX_IMAGE_PIXELS`` pixels be decoded at once per process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from facereid.config import Settings
from facereid.errors import FaceReIDError
from facereid.intake.budget import header_limits, read_header
from facereid.intake.shipping import ShippedImage, decode_for_shipping

logger = logging.getLogger(__name__)


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
