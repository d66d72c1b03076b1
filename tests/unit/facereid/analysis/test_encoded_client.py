"""The face and CLIP clients' encoded path (issue 15) on fake dependency handles: what is sent
to the face service, its per-image errors, timeouts, and emotion scores placed per crop."""

from __future__ import annotations

import asyncio
import base64
import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from facereid.config import Settings
from facereid.errors import CorruptImageError, ImageTooLargeError, ModelTimeoutError
from facereid.intake.budget import ImageHeader
from facereid.intake.shipping import image_header
from facereid.wire.faces import EncodedRequest
from tests.unit.facereid.analysis.test_model_client import emotions, faces, handle, wire_face

CROP = np.zeros((8, 8, 3), np.uint8)


def jpeg_b64(side: int = 64) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (side, side), (90, 120, 200)).save(buf, "JPEG")
    return base64.b64encode(buf.getvalue()).decode()


def read(data: str, **settings: Any) -> ImageHeader:
    """The API process's intake: header and limits, no pixel decoded."""
    return asyncio.run(image_header(data, Settings(**settings)))


def test_the_encoded_bytes_go_to_the_face_service_not_pixels() -> None:
    sent: list[EncodedRequest] = []

    async def analyze_encoded(requests: list[EncodedRequest]) -> list[dict[str, Any]]:
        sent.extend(requests)
        return [{"faces": [wire_face()], "crops": [CROP]}]

    models = faces(handle(analyze_encoded=analyze_encoded))
    data = jpeg_b64()
    header = read(data)
    remote = asyncio.run(models.analyze_encoded(header, 1))
    assert sent == [EncodedRequest(raw=base64.b64decode(data), crops=1)]
    assert remote.faces[0].bbox == (10.0, 10.0, 60.0, 70.0) and remote.crops[0] is CROP


def test_header_limits_refuse_before_any_face_call() -> None:
    async def never(requests: list[dict[str, Any]]) -> None:
        raise AssertionError("the face service must not be called")

    with pytest.raises(ImageTooLargeError):
        read(jpeg_b64(64), max_image_side=32)


def test_a_face_service_error_is_raised_with_its_code() -> None:
    async def broken(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"error": {"code": "corrupt_image", "message": "JPEG image could not be decoded"}}]

    models = faces(handle(analyze_encoded=broken))
    header = read(jpeg_b64())
    with pytest.raises(CorruptImageError, match="could not be decoded"):
        asyncio.run(models.analyze_encoded(header, 0))


def test_a_slow_face_service_is_a_timeout() -> None:
    async def slow(requests: list[dict[str, Any]]) -> None:
        await asyncio.sleep(5)

    models = faces(handle(analyze_encoded=slow), face_timeout_s=0.05)
    header = read(jpeg_b64())
    with pytest.raises(ModelTimeoutError):
        asyncio.run(models.analyze_encoded(header, 0))


def test_scores_land_on_their_crops_and_degrade_to_none() -> None:
    scored: list[int] = []

    async def score(crops: list[np.ndarray]) -> list[dict[str, float]]:
        scored.append(len(crops))
        return [{"happy": float(i)} for i in range(len(crops))]

    models = emotions(handle(score=score))
    scores = asyncio.run(models.score_crops([CROP, None, CROP], None))
    assert scored == [2]  # the missing crop is not sent
    assert scores == [{"happy": 0.0}, None, {"happy": 1.0}]

    async def failing(crops: list[np.ndarray]) -> None:
        raise RuntimeError("CLIP down")

    down = emotions(handle(score=failing))
    assert asyncio.run(down.score_crops([CROP], None)) == [None]
    assert not down.clip_health.available  # marked, so the next requests skip CLIP
