"""Per-request pixel budget and the process-wide decode gate (issue 12)."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from facereid.errors import DecompressionBombError, FaceReIDError, PixelBudgetExceededError
from facereid.intake.budget import ImageHeader, plan_batch, read_header

SIDE = 4096


def lossless_webp(side: int = SIDE) -> bytes:
    """A flat RGBA canvas: a few hundred bytes that decode to side x side x 4."""
    buf = io.BytesIO()
    Image.new("RGBA", (side, side), (10, 200, 30, 255)).save(buf, "WEBP", lossless=True)
    return buf.getvalue()


def jpeg(width: int, height: int, orientation: int | None = None) -> bytes:
    buf = io.BytesIO()
    img = Image.new("RGB", (width, height), (120, 80, 40))
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    img.save(buf, "JPEG", quality=80, exif=exif.tobytes())
    return buf.getvalue()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def test_tiny_webp_declares_its_full_canvas() -> None:
    raw = lossless_webp()
    assert len(raw) < 2000  # the attack: kilobytes on the wire
    header = read_header(raw, max_side=SIDE, max_pixels=SIDE * SIDE, ship_side=1920)
    assert (header.width, header.height, header.format) == (SIDE, SIDE, "WEBP")
    assert header.decoded_pixels == SIDE * SIDE  # no reduced decode for WebP


def test_batch_budget_is_taken_in_request_order() -> None:
    data = b64(lossless_webp())
    plans = plan_batch(
        [data] * 16, max_side=SIDE, max_pixels=SIDE * SIDE, ship_side=1920, budget=4 * SIDE * SIDE
    )
    assert [isinstance(p, ImageHeader) for p in plans] == [True] * 4 + [False] * 12
    refused = plans[4]
    assert isinstance(refused, PixelBudgetExceededError)
    assert refused.code == "pixel_budget_exceeded" and refused.status == 413
    assert "image 4 (4096x4096)" in refused.message


def test_small_image_after_a_refused_one_still_fits() -> None:
    big, small = b64(lossless_webp()), b64(jpeg(100, 100))
    plans = plan_batch(
        [big, big, small], max_side=SIDE, max_pixels=SIDE * SIDE, ship_side=1920,
        budget=SIDE * SIDE + 100 * 100,
    )  # fmt: skip
    assert isinstance(plans[0], ImageHeader)
    assert isinstance(plans[1], PixelBudgetExceededError)
    assert isinstance(plans[2], ImageHeader)


def test_bad_images_in_a_batch_get_their_own_codes_and_take_no_budget() -> None:
    plans = plan_batch(
        ["not base64!", b64(b"GIF89a broken"), b64(jpeg(100, 100))],
        max_side=SIDE, max_pixels=SIDE * SIDE, ship_side=1920, budget=100 * 100,
    )  # fmt: skip
    assert [p.code for p in plans if isinstance(p, FaceReIDError)] == [
        "invalid_base64",
        "corrupt_image",
    ]
    assert isinstance(plans[2], ImageHeader)


def test_header_limits_still_apply() -> None:
    with pytest.raises(DecompressionBombError):
        read_header(lossless_webp(), max_side=1024, max_pixels=1024 * 1024, ship_side=1920)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((4000, 3000), 2000 * 1500),  # 1/2: the largest scale still >= 1920 on the long side
        ((4096, 4096), 2048 * 2048),
        ((1920, 1080), 1920 * 1080),  # within the bound: decoded as is
    ],
)
def test_jpeg_counts_at_its_draft_size(size: tuple[int, int], expected: int) -> None:
    raw = jpeg(*size)
    header = read_header(raw, max_side=SIDE, max_pixels=SIDE * SIDE, ship_side=1920)
    assert header.decoded_pixels == expected
    if max(size) > 1920:  # what Pillow's decoder will really allocate
        img = Image.open(io.BytesIO(raw))
        img.draft(None, (1920, 1920 * size[1] // size[0]))
        assert img.size[0] * img.size[1] == expected


def test_exif_rotation_swaps_the_reported_size() -> None:
    header = read_header(
        jpeg(300, 200, orientation=6), max_side=SIDE, max_pixels=SIDE**2, ship_side=1920
    )
    assert (header.width, header.height) == (200, 300)


def test_plan_of_16_tiny_webps_decodes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Planning reads headers only: no pixel is decoded (a decode would raise here)."""
    from PIL import ImageFile, WebPImagePlugin

    def no_decode(self: object) -> None:
        raise AssertionError("pixels decoded while planning")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decode)
    monkeypatch.setattr(WebPImagePlugin.WebPImageFile, "load", no_decode)
    data = b64(lossless_webp())
    plans = plan_batch(
        [data] * 16, max_side=SIDE, max_pixels=SIDE * SIDE, ship_side=1920, budget=SIDE * SIDE
    )
    assert sum(isinstance(p, ImageHeader) for p in plans) == 1
