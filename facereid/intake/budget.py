"""How many pixels a request may decode, and how many the whole process decodes at once.

A lossless 4096x4096 WebP is 702 bytes, so the request size says nothing about the memory a
decode takes. Two bounds follow the pixels instead:

- ``plan_batch``: each image's header is read first (no pixels), then the images take their
  decoded pixel counts from one per-request budget (``MAX_BATCH_PIXELS``) in request order, so
  which images are refused (``pixel_budget_exceeded``) does not depend on timing. A JPEG
  counts at the size it is decoded at (``draft``: 1/2, 1/4 or 1/8 of each side when the image
  is larger than what is shipped to the face service).
- the face service's ``ThreadPixelGate`` (``facereid.intake.service_decode``): decodes
  across all requests of a process share ``MAX_CONCURRENT_DECODES`` x ``MAX_IMAGE_PIXELS``
  pixels; a decode waits until its pixels fit. Small images pass side by side.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image

from facereid.errors import EmptyImageError, FaceReIDError, PixelBudgetExceededError
from facereid.intake.images import b64_to_bytes, check_image_size, open_image_header

if TYPE_CHECKING:
    from facereid.config import Settings

logger = logging.getLogger(__name__)

_TRANSPOSED = {5, 6, 7, 8}  # EXIF orientations that swap width and height
_EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class ImageHeader:
    """An image whose header passed the size checks; nothing decoded yet."""

    raw: bytes
    width: int  # after EXIF orientation
    height: int
    format: str
    decoded_pixels: int  # what the decode will allocate (JPEG draft included)


def header_limits(settings: Settings) -> dict[str, int]:
    """The per-image limits ``read_header`` and ``plan_batch`` take, from the settings: one
    place for the API's header check and the face service's check again."""
    return {
        "max_side": settings.max_image_side,
        "max_pixels": settings.max_image_pixels,
        "ship_side": settings.max_ship_side,
        "max_jpeg_side": settings.max_jpeg_side,
    }


def read_header(
    data: str | bytes, *, max_side: int, max_pixels: int, ship_side: int, max_jpeg_side: int = 0
) -> ImageHeader:
    """Base64 (or bytes) -> checked header. Raises our FaceReIDError codes only.

    A JPEG larger than ``max_side`` (a phone's 4000-12000 px photo) is accepted up to
    ``max_jpeg_side`` per side when its reduced decode (``draft``: 1/2, 1/4 or 1/8 of each
    side, down to the shipped size) fits ``max_side`` and ``max_pixels``: the pixels that are
    ever allocated are then within the same limits as any other image. Other formats have no
    reduced decode and keep ``max_side``; Pillow's own bomb guard (about 89.5 MP declared)
    still applies to all."""
    raw = b64_to_bytes(data) if isinstance(data, str) else data
    if not raw:
        raise EmptyImageError("image data is empty")
    img = open_image_header(raw)
    width, height = img.size
    fmt = str(img.format)
    decoded_w, decoded_h = _draft_side(img, ship_side) if fmt == "JPEG" else (width, height)
    if fmt == "JPEG" and max_side < max(width, height) <= max_jpeg_side:
        check_image_size(decoded_w, decoded_h, max_side=max_side, max_pixels=max_pixels)
    else:
        check_image_size(width, height, max_side=max_side, max_pixels=max_pixels)
    decoded = decoded_w * decoded_h
    if _orientation(img) in _TRANSPOSED:
        width, height = height, width
    return ImageHeader(raw, width, height, fmt, decoded)


def draft_size(width: int, height: int, ship_side: int) -> tuple[int, int]:
    """The (raw-orientation) size to ask ``Image.draft`` for: the shipped size, so the
    JPEG decoder picks the largest 1/n scale that is still at least that big."""
    scale = ship_side / max(width, height)
    return max(1, int(width * scale)), max(1, int(height * scale))


def _draft_side(img: Image.Image, ship_side: int) -> tuple[int, int]:
    """Size after ``draft``: the arithmetic of Pillow's JpegImageFile.draft."""
    raw_w, raw_h = img.size
    want = draft_size(raw_w, raw_h, ship_side)
    n = min(raw_w // want[0], raw_h // want[1])
    factor = next((s for s in (8, 4, 2) if n >= s), 1)  # 1: no reduction (not larger)
    return (raw_w + factor - 1) // factor, (raw_h + factor - 1) // factor


def _orientation(img: Image.Image) -> int:
    try:
        return int(img.getexif().get(_EXIF_ORIENTATION, 1))
    except Exception:  # unreadable EXIF: decoded as stored, like ImageOps.exif_transpose
        return 1


def plan_batch(
    images: list[str],
    *,
    max_side: int,
    max_pixels: int,
    ship_side: int,
    budget: int,
    max_jpeg_side: int = 0,
) -> list[ImageHeader | FaceReIDError]:
    """Each image's header, or the error it gets; budget taken in request order."""
    plans: list[ImageHeader | FaceReIDError] = []
    left = budget
    for index, data in enumerate(images):
        try:
            header = read_header(
                data,
                max_side=max_side,
                max_pixels=max_pixels,
                ship_side=ship_side,
                max_jpeg_side=max_jpeg_side,
            )
        except FaceReIDError as exc:
            plans.append(exc)
            continue
        if header.decoded_pixels > left:
            plans.append(
                PixelBudgetExceededError(
                    f"image {index} ({header.width}x{header.height}) does not fit in what is "
                    f"left of the request's budget of {budget} decoded pixels; send it in "
                    f"another request"
                )
            )
            continue
        left -= header.decoded_pixels
        plans.append(header)
    return plans
