"""The face-quality gate of gallery enrolment on real photos, against the dlib server: a tiny,
a blurred and a turned face are refused naming the component that failed; a good one passes;
hostile ``min_quality`` values answer 422. ``/analyze`` carries the same score."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from tests.harness import Server
from tests.integration.payloads import b64_array, b64_file

pytestmark = pytest.mark.slow


def _obama(shared_faces: Path) -> np.ndarray:
    bgr = cv2.imread(str(shared_faces / "identities" / "obama" / "obama.jpg"))
    assert bgr is not None
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)


def _enroll(server: Server, image: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    body = {"gallery": "quality-gate", "subject": "someone", "image_data": image, **extra}
    with server.client(timeout=120) as client:
        response = client.post("/gallery/enroll", json=body)
    return response.status_code, response.json()


def _refused_for(server: Server, image: str, component: str, **extra: Any) -> str:
    status, body = _enroll(server, image, **extra)
    assert status == 422, body
    assert body["error"]["code"] == "face_quality_too_low", body
    message: str = body["error"]["message"]
    assert component in message, message
    return message


def test_a_good_face_passes_and_answers_its_quality(
    dlib_server: Server, shared_faces: Path
) -> None:
    status, body = _enroll(dlib_server, b64_array(_obama(shared_faces)), min_quality=0.9)
    assert status == 200, body
    quality = body["quality"]
    assert quality["score"] >= 0.9
    assert quality["score"] == min(quality["components"].values())
    assert set(quality["components"]) == {"detector", "size", "sharpness", "pose"}


def test_a_tiny_face_is_refused_for_its_size(dlib_server: Server, shared_faces: Path) -> None:
    rgb = _obama(shared_faces)  # face about 268 px: a seventh of it is about 40 px
    tiny = cv2.resize(rgb, (rgb.shape[1] // 7, rgb.shape[0] // 7), interpolation=cv2.INTER_AREA)
    message = _refused_for(dlib_server, b64_array(tiny), "size")  # the default bar (0.4)
    for other in ("detector", "sharpness", "pose"):
        assert other not in message.split(":", 1)[1], message


def test_a_blurred_face_is_refused_for_its_sharpness(
    dlib_server: Server, shared_faces: Path
) -> None:
    blurred = cv2.GaussianBlur(_obama(shared_faces), (0, 0), 5)
    message = _refused_for(dlib_server, b64_array(blurred), "sharpness")
    assert "size" not in message and "pose" not in message, message


def test_a_turned_face_is_refused_for_its_pose(dlib_server: Server, t1_path: Path) -> None:
    """t1.jpg's largest face looks well to one side (pose ~0.47, everything else >= 0.78)."""
    message = _refused_for(dlib_server, b64_file(t1_path), "pose", min_quality=0.6)
    assert "sharpness" not in message and "size" not in message, message


OUT_OF_RANGE, NOT_A_NUMBER = "invalid_gallery_request", "invalid_request"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (-0.1, OUT_OF_RANGE),
        (1.5, OUT_OF_RANGE),
        (float("nan"), OUT_OF_RANGE),
        ("0.5", NOT_A_NUMBER),
        (True, NOT_A_NUMBER),
        ([0.5], NOT_A_NUMBER),
    ],
)
def test_hostile_min_quality_is_refused(
    dlib_server: Server, shared_faces: Path, value: object, code: str
) -> None:
    image = b64_file(shared_faces / "identities" / "biden" / "biden.jpg")
    body = {"gallery": "quality-gate", "image_data": image, "min_quality": value}
    raw = _json_with_nan(body) if isinstance(value, float) and math.isnan(value) else None
    with dlib_server.client(timeout=120) as client:
        if raw is None:
            response = client.post("/gallery/enroll", json=body)
        else:
            headers = {"Content-Type": "application/json"}
            response = client.post("/gallery/enroll", content=raw, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code, response.text
    assert "min_quality" in response.text


def _json_with_nan(body: dict[str, Any]) -> bytes:
    import json

    return json.dumps(body, allow_nan=True).encode()  # NaN as the bare literal


def test_analyze_answers_the_same_quality(dlib_server: Server, shared_faces: Path) -> None:
    blurred = cv2.GaussianBlur(_obama(shared_faces), (0, 0), 5)
    with dlib_server.client(timeout=120) as client:
        response = client.post("/analyze", json={"image_data": b64_array(blurred)})
    assert response.status_code == 200, response.text
    quality = response.json()["quality"]
    assert quality["components"]["sharpness"] < 0.4
    assert quality["score"] == quality["components"]["sharpness"]
