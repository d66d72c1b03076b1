"""Photos as phones take them (issue 23): JPEGs past MAX_IMAGE_SIDE are analysed through their
reduced (draft) decode, up to MAX_JPEG_SIDE; other formats and larger JPEGs keep the 413.

deepface's own test set has a 3061x4600 and a 4352x2903 photo that were refused with 413; they
cannot be downloaded here, so photos of exactly those sizes are made from insightface's t1.jpg
(six real faces) scaled onto a canvas, and one 8000x6000 JPEG the same way."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from tests.harness import Server

pytestmark = pytest.mark.slow


def photo(t1_path: Path, width: int, height: int, fmt: str = "JPEG") -> str:
    canvas = Image.new("RGB", (width, height), (128, 128, 128))
    with Image.open(t1_path) as t1:
        scale = min(width / t1.width, height / t1.height)
        scaled = t1.convert("RGB").resize((int(t1.width * scale), int(t1.height * scale)))
    canvas.paste(scaled, ((width - scaled.width) // 2, (height - scaled.height) // 2))
    buffer = io.BytesIO()
    canvas.save(buffer, fmt, quality=90) if fmt == "JPEG" else canvas.save(buffer, fmt)
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.parametrize("size", [(3061, 4600), (4352, 2903), (8000, 6000)])
def test_phone_size_jpegs_are_analysed(
    dlib_server: Server, t1_path: Path, size: tuple[int, int]
) -> None:
    body = {"image_data": photo(t1_path, *size), "return_all_faces": True}
    with dlib_server.client(timeout=120) as client:
        answer = client.post("/analyze", json=body)
    assert answer.status_code == 200, answer.text  # before: 413 image_too_large
    result = answer.json()
    assert result["num_faces"] == 6
    for face in result["faces"]:  # boxes in the photo's own pixels, not the decoded ones
        x, y, w, h = face["bbox"]
        assert 0 <= x < size[0] and 0 <= y < size[1] and x + w <= size[0] + 1


@pytest.mark.parametrize(("size", "fmt"), [((12_100, 1_000), "JPEG"), ((5_000, 3_000), "PNG")])
def test_past_the_bound_or_without_a_reduced_decode_is_still_413(
    dlib_server: Server, t1_path: Path, size: tuple[int, int], fmt: str
) -> None:
    body = {"image_data": photo(t1_path, *size, fmt=fmt)}
    with dlib_server.client(timeout=120) as client:
        answer = client.post("/analyze", json=body)
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "image_too_large"
