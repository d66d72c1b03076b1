"""Property tests (Hypothesis) for image intake: whatever the bytes, the only failures are
our FaceReIDError codes, and nothing is decoded beyond the limits (issue 12)."""

from __future__ import annotations

import base64
import io
import struct
import zlib
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from facereid.errors import FaceReIDError, ImageTooLargeError
from facereid.intake.budget import plan_batch, read_header
from facereid.intake.images import (
    b64_to_bytes,
    decode_image_bytes,
    lenient_b64_to_bytes,
)
from facereid.intake.shipping import decode_for_shipping
from tests.unit.facereid.intake.decoding import decode_image_b64

MAX_SIDE = 256
MAX_PIXELS = 200 * 200
SHIP = 64
LIMITS = {"max_side": MAX_SIDE, "max_pixels": MAX_PIXELS}
PROFILE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SIGNATURES = [
    b"\xff\xd8\xff\xe0",
    b"\x89PNG\r\n\x1a\n",
    b"GIF89a",
    b"GIF87a",
    b"BM",
    b"RIFF\x00\x00\x00\x00WEBPVP8L",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    b"II*\x00",
    b"\x00\x00\x00\x0cftypavif",
]


def _seed_images() -> list[bytes]:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (40, 48, 3), np.uint8)
    out = []
    for fmt, mode in (
        ("JPEG", "RGB"), ("PNG", "RGBA"), ("PNG", "P"), ("PNG", "I;16"), ("GIF", "P"),
        ("BMP", "RGB"), ("WEBP", "RGBA"), ("PNG", "LA"), ("JPEG", "CMYK"),
    ):  # fmt: skip
        if mode == "I;16":
            img = Image.fromarray(pixels[:, :, 0].astype(np.uint16) * 257)
        else:
            img = Image.fromarray(pixels).convert(mode)
        buf = io.BytesIO()
        img.save(buf, fmt)
        out.append(buf.getvalue())
    return out


SEEDS = _seed_images()


def _check_decoded(raw: bytes) -> None:
    try:
        image = decode_image_bytes(raw, **LIMITS)
    except FaceReIDError:
        pass
    else:
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        h, w = image.shape[:2]
        assert max(h, w) <= MAX_SIDE and h * w <= MAX_PIXELS
    try:
        header = read_header(raw, ship_side=SHIP, **LIMITS)
        shipped = decode_for_shipping(header, ship_side=SHIP)
    except FaceReIDError:
        return
    assert max(shipped.image.shape[:2]) <= SHIP
    assert max(shipped.width, shipped.height) <= MAX_SIDE
    assert shipped.width * shipped.height <= MAX_PIXELS


@PROFILE
@given(st.binary(max_size=4096))
def test_random_bytes_raise_only_our_errors(raw: bytes) -> None:
    _check_decoded(raw)


@PROFILE
@given(st.sampled_from(SIGNATURES), st.binary(max_size=2048))
def test_known_signatures_with_random_bodies_raise_only_our_errors(
    signature: bytes, tail: bytes
) -> None:
    _check_decoded(signature + tail)


@PROFILE
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=12),
    st.integers(0, 10_000),
)
def test_mutated_real_images_raise_only_our_errors(
    seed: bytes, flips: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(seed)
    for position, value in flips:
        data[position % len(data)] = value
    _check_decoded(bytes(data[: max(1, len(data) - cut)]))


def _png_declaring(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@PROFILE
@given(st.integers(1, 2**31 - 1), st.integers(1, 2**31 - 1))
def test_declared_canvas_over_the_limits_is_refused_before_decoding(w: int, h: int) -> None:
    raw = _png_declaring(w, h)
    if max(w, h) > MAX_SIDE or w * h > MAX_PIXELS:
        with pytest.raises(ImageTooLargeError):
            read_header(raw, ship_side=SHIP, **LIMITS)
    _check_decoded(raw)


@PROFILE
@given(st.text(max_size=300))
def test_random_text_as_base64_raises_only_our_errors(text: str) -> None:
    try:
        decode_image_b64(text, **LIMITS)
    except FaceReIDError:
        pass


@PROFILE
@given(
    st.lists(
        st.one_of(
            st.text(max_size=80),
            st.sampled_from(SEEDS).map(lambda raw: base64.b64encode(raw).decode()),
        ),
        max_size=8,
    ),
    st.integers(0, 10_000),
)
def test_batch_plans_hold_headers_or_our_errors_within_budget(
    images: list[str], budget: int
) -> None:
    plans = plan_batch(images, ship_side=SHIP, budget=budget, **LIMITS)
    assert len(plans) == len(images)
    taken = sum(p.decoded_pixels for p in plans if not isinstance(p, FaceReIDError))
    assert taken <= budget
    assert all(isinstance(p, FaceReIDError) or p.decoded_pixels > 0 for p in plans)


def _outcome(decode: Callable[[str], bytes], text: str) -> bytes | str:
    try:
        return decode(text)
    except FaceReIDError as exc:
        return exc.code


@PROFILE
@given(
    st.one_of(
        st.text(alphabet="ABCabc019+/=-_ \n\t:;,", max_size=40),
        st.binary(max_size=30).map(lambda b: base64.b64encode(b).decode()),
        st.binary(max_size=30).map(lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")),
        st.text(max_size=40),
    )
)
def test_the_strict_fast_path_decodes_what_the_lenient_path_decodes(text: str) -> None:
    """b64_to_bytes tries one strict C pass first; whatever it accepts must be exactly what
    the lenient path gives, and what it refuses must get the lenient path's answer."""
    assert _outcome(b64_to_bytes, text) == _outcome(lenient_b64_to_bytes, text.strip())
