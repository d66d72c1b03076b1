"""Images go to the face service at a bounded size; faces come back in original pixels.

The detector sees a ``DET_SIZE`` (640) letterbox and the embedder a 112 px aligned crop, so
pixels beyond ``MAX_SHIP_SIDE`` per side only cost memory and transfer (a 4096x4096 image is
50 MB as a BGR array, serialised to the face service and held there). Larger images are
decoded at a reduced size where the format allows (JPEG ``draft``), shrunk to the bound, and
shipped; boxes, keypoints and landmarks are then scaled back to the original image. Images
within the bound take exactly the decode path they always did, so their results are
unchanged. The shipped image also serves the emotion crops (CLIP sees 224 px).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import anyio

from facereid.config import Settings
from facereid.errors import CorruptImageError, FaceReIDError
from facereid.faces.records import BGRImage, FaceRecord
from facereid.intake.budget import ImageHeader, draft_size, header_limits, read_header
from facereid.intake.images import decode_image_bytes, finish_decode, open_image_header

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShippedImage:
    image: BGRImage  # at most MAX_SHIP_SIDE per side
    width: int  # the original image, after EXIF orientation
    height: int

    @property
    def scale_x(self) -> float:
        return self.width / int(self.image.shape[1])

    @property
    def scale_y(self) -> float:
        return self.height / int(self.image.shape[0])

    def to_original(self, face: FaceRecord) -> FaceRecord:
        """A face from the face service with its geometry in original-image pixels."""
        if self.image.shape[:2] == (self.height, self.width):
            return face
        return face.scaled(self.scale_x, self.scale_y)


def shipped_size(width: int, height: int, ship_side: int) -> tuple[int, int]:
    if max(width, height) <= ship_side:
        return width, height
    scale = ship_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def decode_for_shipping(header: ImageHeader, *, ship_side: int) -> ShippedImage:
    """Decode ``header``'s image at most ``ship_side`` pixels per side (blocking)."""
    width, height = header.width, header.height
    if max(width, height) <= ship_side:
        # The unchanged path: results for these images stay what they were.
        image = decode_image_bytes(header.raw, max_side=ship_side, max_pixels=width * height)
        return ShippedImage(image, width, height)
    img = open_image_header(header.raw)
    if header.format == "JPEG":
        try:
            img.draft(None, draft_size(img.size[0], img.size[1], ship_side))
        except Exception as exc:  # draft on a malformed JPEG: the decode will say what broke
            raise CorruptImageError(f"JPEG image could not be decoded: {exc}") from exc
    image = finish_decode(img, shrink_to=shipped_size(width, height, ship_side))
    return ShippedImage(image, width, height)


async def image_header(data: str | ImageHeader, settings: Settings) -> ImageHeader:
    """Base64 and header checks off the event loop; no pixel is decoded here."""
    if isinstance(data, ImageHeader):
        return data
    return await anyio.to_thread.run_sync(lambda: read_header(data, **header_limits(settings)))


async def plan_images(images: list[str], settings: Settings) -> list[ImageHeader | FaceReIDError]:
    """/analyze_batch's intake plan (``budget.plan_batch``) off the event loop."""
    from facereid.intake.budget import plan_batch

    limits = header_limits(settings)
    return await anyio.to_thread.run_sync(
        lambda: plan_batch(images, **limits, budget=settings.max_batch_pixels)
    )
