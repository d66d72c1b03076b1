"""Image intake: formats, base64 forms, EXIF, modes, and size checks before the decode."""

from __future__ import annotations

import base64
import io
import struct
import time
import zlib
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image, ImageFile

from facereid import errors
from facereid.intake.images import decode_image_bytes, encode_image_b64
from tests.unit.facereid.intake.decoding import decode_image_b64

LIMITS = {"max_side": 4096, "max_pixels": 4096 * 4096}
BLUE, RED = (255, 0, 0), (0, 0, 255)  # BGR


def _two_tone(h: int = 40, w: int = 64) -> np.ndarray:
    """Left half blue, right half red (BGR): catches a swapped channel order."""
    img = np.zeros((h, w, 3), dtype=np.uint8)
    img[:, : w // 2] = BLUE
    img[:, w // 2 :] = RED
    return img


def _pil_bytes(img: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **params)
    return buf.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A valid PNG signature and IHDR declaring width x height, with a tiny IDAT."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def load_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Records every pixel decode (Image.load / ImageFile.load)."""
    calls: list[str] = []
    image_load, file_load = Image.Image.load, ImageFile.ImageFile.load

    def spy_image(self: Image.Image) -> object:
        calls.append("Image.load")
        return image_load(self)

    def spy_file(self: ImageFile.ImageFile) -> object:
        calls.append("ImageFile.load")
        return file_load(self)

    monkeypatch.setattr(Image.Image, "load", spy_image)
    monkeypatch.setattr(ImageFile.ImageFile, "load", spy_file)
    yield calls


@pytest.mark.parametrize(
    ("fmt", "tol"), [("png", 0), ("bmp", 0), ("jpeg", 6), ("webp", 6), ("gif", 2)]
)
def test_every_format_round_trips_in_bgr_order(fmt: str, tol: int) -> None:
    img = _two_tone()
    out = decode_image_b64(encode_image_b64(img, fmt), **LIMITS)
    assert out.dtype == np.uint8 and out.shape == img.shape and out.flags.c_contiguous
    # Compare away from the colour edge, where lossy codecs blur.
    assert np.abs(out[:, 4:24].astype(int) - BLUE).max() <= tol
    assert np.abs(out[:, 40:60].astype(int) - RED).max() <= tol


def test_data_uri_whitespace_missing_padding_and_urlsafe_are_accepted() -> None:
    img = _two_tone(33, 47)
    std = encode_image_b64(img, "png")
    assert "+" in std or "/" in std  # so the URL-safe variant differs
    urlsafe = std.translate(str.maketrans("+/", "-_")).rstrip("=")
    wrapped = "\n".join(std[i : i + 76] for i in range(0, len(std), 76))
    for data in (
        f"data:image/png;base64,{std}",
        f"  {wrapped}\n",
        urlsafe,
        f"DATA:image/png;charset=x;base64,{urlsafe}",
    ):
        assert np.array_equal(decode_image_b64(data, **LIMITS), img)


def test_exif_orientation_is_applied() -> None:
    stored = np.zeros((40, 60, 3), dtype=np.uint8)
    stored[:12, :12] = (255, 255, 255)  # marker at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # display = stored rotated 90 degrees clockwise
    raw = _pil_bytes(Image.fromarray(stored), "JPEG", quality=95, exif=exif.tobytes())
    out = decode_image_bytes(raw, **LIMITS)
    assert out.shape == (60, 40, 3)
    assert out[:10, -10:].mean() > 200  # marker moved to the top-right
    assert out[:10, :10].mean() < 50


def test_oversized_image_is_refused_before_any_pixel_decode(load_calls: list[str]) -> None:
    raw = _pil_bytes(Image.new("L", (4097, 20)), "PNG")
    fits = _pil_bytes(Image.new("L", (4096, 20)), "PNG")
    load_calls.clear()  # saving the test images decoded them
    with pytest.raises(errors.ImageTooLargeError) as info:
        decode_image_bytes(raw, **LIMITS)
    assert type(info.value) is errors.ImageTooLargeError and info.value.code == "image_too_large"
    assert load_calls == []
    decode_image_bytes(fits, **LIMITS)
    assert load_calls  # the spy does see a real decode


def test_pixel_limit_applies_separately_from_side_limit() -> None:
    raw = _pil_bytes(Image.new("RGB", (100, 100)), "PNG")
    with pytest.raises(errors.ImageTooLargeError):
        decode_image_bytes(raw, max_side=4096, max_pixels=9_999)
    assert decode_image_bytes(raw, max_side=100, max_pixels=10_000).shape == (100, 100, 3)


def test_decompression_bomb_is_refused_quickly_without_decoding(load_calls: list[str]) -> None:
    raw = _png_header_only(30000, 30000)
    assert len(raw) < 200
    start = time.perf_counter()
    with pytest.raises(errors.DecompressionBombError) as info:
        decode_image_b64(base64.b64encode(raw).decode(), **LIMITS)
    assert time.perf_counter() - start < 0.5
    assert info.value.code == "decompression_bomb" and info.value.status == 413
    assert load_calls == []


def test_bomb_means_more_than_twice_the_pixel_limit() -> None:
    limits = {"max_side": 10_000, "max_pixels": 10_000}
    with pytest.raises(errors.DecompressionBombError):
        decode_image_bytes(_png_header_only(300, 300), **limits)
    with pytest.raises(errors.ImageTooLargeError) as info:
        decode_image_bytes(_png_header_only(120, 120), **limits)
    assert type(info.value) is errors.ImageTooLargeError


def test_pillow_bomb_warning_becomes_our_error_even_with_loose_limits() -> None:
    # 100M pixels: above Pillow's own warning limit, below its error limit and ours.
    with pytest.raises(errors.DecompressionBombError):
        decode_image_bytes(_png_header_only(10_000, 10_000), max_side=10**6, max_pixels=10**9)


@pytest.mark.parametrize(
    ("data", "error", "code"),
    [
        ("", errors.EmptyImageError, "empty_image"),
        ("  \n ", errors.EmptyImageError, "empty_image"),
        ("data:image/png;base64,", errors.EmptyImageError, "empty_image"),
        ("not base64 at all!", errors.InvalidBase64Error, "invalid_base64"),
        ("QUJDRA=Q", errors.InvalidBase64Error, "invalid_base64"),
        ("QUJDR", errors.InvalidBase64Error, "invalid_base64"),  # 5 chars: cannot be base64
        ("data:image/png,iVBORw0KGgo=", errors.InvalidBase64Error, "invalid_base64"),
        ("data:image/png;base64", errors.InvalidBase64Error, "invalid_base64"),
        ("data:text/plain;base64,aGVsbG8=", errors.UnsupportedImageError, "unsupported_image"),
        (
            base64.b64encode(b"hello, this is not an image").decode(),
            errors.UnsupportedImageError,
            "unsupported_image",
        ),
        (
            base64.b64encode(b"II*\x00" + bytes(64)).decode(),
            errors.UnsupportedImageError,
            "unsupported_image",
        ),
    ],
)
def test_bad_input_gets_its_own_error(
    data: str, error: type[errors.FaceReIDError], code: str
) -> None:
    with pytest.raises(error) as info:
        decode_image_b64(data, **LIMITS)
    assert info.value.code == code and 400 <= info.value.status < 500


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_truncated_image_is_corrupt(fmt: str) -> None:
    noise = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    raw = _pil_bytes(Image.fromarray(noise), fmt)
    for cut in (len(raw) // 2, 20):
        with pytest.raises(errors.CorruptImageError) as info:
            decode_image_bytes(raw[:cut], **LIMITS)
        assert info.value.code == "corrupt_image"


def test_empty_bytes_and_tiny_image() -> None:
    with pytest.raises(errors.EmptyImageError):
        decode_image_bytes(b"", **LIMITS)
    with pytest.raises(errors.ImageTooSmallError) as info:
        decode_image_bytes(_pil_bytes(Image.new("RGB", (19, 100)), "PNG"), **LIMITS)
    assert info.value.code == "image_too_small"
    assert decode_image_bytes(_pil_bytes(Image.new("RGB", (20, 20)), "PNG"), **LIMITS).shape == (
        20,
        20,
        3,
    )


def test_transparency_is_composited_on_white() -> None:
    rgba = np.zeros((24, 24, 4), dtype=np.uint8)
    rgba[:, :12] = (255, 0, 0, 255)  # opaque red (RGB order here)
    rgba[:, 12:] = (0, 0, 0, 0)  # fully transparent black
    out = decode_image_bytes(_pil_bytes(Image.fromarray(rgba, "RGBA"), "PNG"), **LIMITS)
    assert tuple(out[5, 5]) == RED and tuple(out[5, 20]) == (255, 255, 255)
    la = Image.fromarray(rgba[:, :, [0, 3]], "LA")
    out = decode_image_bytes(_pil_bytes(la, "PNG"), **LIMITS)
    assert tuple(out[5, 5]) == (255, 255, 255) and tuple(out[5, 20]) == (255, 255, 255)
    pal = Image.fromarray(rgba, "RGBA").convert("P")
    pal.info["transparency"] = int(np.asarray(pal)[5, 20])
    out = decode_image_bytes(
        _pil_bytes(pal, "PNG", transparency=pal.info["transparency"]), **LIMITS
    )
    assert tuple(out[5, 20]) == (255, 255, 255)


def test_sixteen_bit_grayscale_is_scaled_not_clipped() -> None:
    gray = np.full((24, 24), 65535, dtype=np.uint16)
    gray[:, 12:] = 32896  # 128 * 257
    out = decode_image_bytes(_pil_bytes(Image.fromarray(gray), "PNG"), **LIMITS)
    assert out.shape == (24, 24, 3) and out[0, 0].tolist() == [255, 255, 255]
    assert out[0, 20].tolist() == [128, 128, 128]


def test_cmyk_grayscale_and_bilevel_become_three_channel() -> None:
    cmyk = Image.new("CMYK", (24, 24), (0, 255, 255, 0))  # red
    out = decode_image_bytes(_pil_bytes(cmyk, "JPEG", quality=95), **LIMITS)
    assert out.shape == (24, 24, 3) and abs(int(out[5, 5, 2]) - 255) < 8 and out[5, 5, 0] < 8
    for img in (Image.new("L", (24, 24), 77), Image.new("1", (24, 24), 1)):
        out = decode_image_bytes(_pil_bytes(img, "PNG"), **LIMITS)
        assert out.shape == (24, 24, 3) and len(set(out[3, 3].tolist())) == 1


def test_gif_first_frame_is_used() -> None:
    frames = [Image.new("RGB", (24, 24), c) for c in ((255, 0, 0), (0, 255, 0))]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    out = decode_image_bytes(buf.getvalue(), **LIMITS)
    assert tuple(out[5, 5]) == RED


def test_encode_data_uri_form() -> None:
    uri = encode_image_b64(_two_tone(), "jpg", data_uri=True)
    assert uri.startswith("data:image/jpeg;base64,")
