"""Base64 to pixels in one call, for the intake tests: the service reads base64 in the API
process (``budget.read_header``) and decodes the bytes in the face service
(``images.decode_image_bytes``); these tests exercise both halves on one string."""

from __future__ import annotations

from facereid.faces.records import BGRImage
from facereid.intake.images import MIN_IMAGE_SIDE, b64_to_bytes, decode_image_bytes


def decode_image_b64(
    data: str, *, max_side: int, max_pixels: int, min_side: int = MIN_IMAGE_SIDE
) -> BGRImage:
    return decode_image_bytes(
        b64_to_bytes(data), max_side=max_side, max_pixels=max_pixels, min_side=min_side
    )
