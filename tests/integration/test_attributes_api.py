"""include_attributes end to end (issue 24): the dlib engine's pose from real photos with
age/gender null and the reason, the synthetic InsightFace pack's age/gender/pose, answers
without the flag unchanged, and hostile values refused. Every 200 is checked against the
OpenAPI schema (conftest)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness import Server
from tests.integration.payloads import b64_file

pytestmark = pytest.mark.slow


def test_dlib_pose_on_real_photos_and_no_invented_age(
    dlib_server: Server, shared_faces: Path
) -> None:
    obama = shared_faces / "identities" / "obama"
    images = [b64_file(obama / "obama-480p.jpg"), b64_file(obama / "obama1.jpg")]
    body = {"images": images, "include_attributes": True, "include_emotions": False}
    with dlib_server.client() as client:
        response = client.post("/analyze_batch", json=body)
        plain = client.post("/analyze", json={"image_data": images[0]})
    assert response.status_code == 200, response.text
    frontal, turned = (r["attributes"] for r in response.json()["results"])
    for attrs in (frontal, turned):
        assert attrs["age"] is None and attrs["gender"] is None
        assert attrs["gender_probability"] is None
        assert "dlib" in attrs["reason"] and attrs["source"].startswith("dlib/")
    assert abs(frontal["pose"]["yaw"]) < 8
    assert abs(turned["pose"]["yaw"]) > 20
    assert plain.status_code == 200
    assert "attributes" not in plain.json()  # without the flag the answer is unchanged


def test_synthetic_pack_answers_every_attribute(synthetic_server: Server, t1_path: Path) -> None:
    body = {"image_data": b64_file(t1_path), "include_attributes": True, "return_all_faces": True}
    with synthetic_server.client() as client:
        response = client.post("/analyze", json=body)
    assert response.status_code == 200, response.text
    faces = response.json()["faces"]
    assert len(faces) > 1
    for face in faces:
        attrs = face["attributes"]
        assert isinstance(attrs["age"], int) and attrs["gender"] in ("male", "female")
        assert 0.5 <= attrs["gender_probability"] <= 1.0
        assert set(attrs["pose"]) == {"pitch", "yaw", "roll"}
        assert attrs["source"].startswith("insightface/") and attrs["reason"] is None
        assert attrs["source"].endswith("(synthetic)")  # never presented as a real model
    assert faces[0]["attributes"] == response.json()["attributes"]


@pytest.mark.parametrize("value", ["yes", 1, None, [True], {"on": True}])
@pytest.mark.parametrize("route", ["/analyze", "/analyze_batch"])
def test_hostile_flag_is_invalid_request(
    dlib_server: Server, t1_path: Path, route: str, value: object
) -> None:
    image = b64_file(t1_path)
    body: dict[str, object] = {"image_data": image} if route == "/analyze" else {"images": [image]}
    body["include_attributes"] = value
    with dlib_server.client() as client:
        response = client.post(route, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_request"


def test_gallery_enrolment_answers_attributes_when_asked(
    dlib_server: Server, shared_faces: Path
) -> None:
    image = b64_file(shared_faces / "identities" / "obama" / "obama1.jpg")
    body: dict[str, object] = {"gallery": "attrs-test", "subject": "obama", "image_data": image}
    with dlib_server.client() as client:
        plain = client.post("/gallery/enroll", json=body)
        asked = client.post("/gallery/enroll", json={**body, "include_attributes": True})
        hostile = client.post("/gallery/enroll", json={**body, "include_attributes": "yes"})
    assert plain.status_code == 200 and "attributes" not in plain.json()
    assert asked.status_code == 200, asked.text
    attrs = asked.json()["attributes"]
    assert attrs["age"] is None and attrs["pose"]["yaw"] < -20  # the turned photo
    assert hostile.status_code == 422
    assert hostile.json()["error"]["code"] == "invalid_request"
