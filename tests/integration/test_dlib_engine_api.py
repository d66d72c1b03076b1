"""With no models in the store the service falls back to dlib (real weights from PyPI),
says so, and finds real faces end to end."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tests.harness import Server
from tests.integration.payloads import b64_file, b64_flat

pytestmark = pytest.mark.slow


def test_health_reports_dlib_and_fer_for_emotions(dlib_server: Server) -> None:
    with dlib_server.client() as client:
        body = client.get("/health").json()
    assert body["engine"] == "dlib"
    assert body["face_model"]["embedding_dim"] == 128
    assert body["face_model"]["synthetic"] is False
    assert "iBUG 300-W" in body["face_model"]["license"]["message"]
    # no CLIP in the store: EMOTION_ENGINE=auto serves fer's model, so nothing is degraded
    assert body["status"] == "healthy" and body["clip_service"] == "available"
    assert body["emotion_model"]["engine"] == "fer" and "reason" not in body
    assert "dlib engine" in dlib_server.log()


def test_t1_end_to_end(dlib_server: Server, t1_path: Path) -> None:
    body = {"image_data": b64_file(t1_path), "return_all_faces": True}
    with dlib_server.client() as client:
        response = client.post("/analyze", json=body)
    assert response.status_code == 200, response.text
    face = response.json()
    assert face["num_faces"] == 6
    assert face["emotion_model"].startswith("facereid-fer:")  # no CLIP: fer's model
    assert all(sum(f["emotions"].values()) == pytest.approx(1.0, abs=1e-4) for f in face["faces"])
    assert face["embedding_model"].startswith("dlib/")
    for each in face["faces"]:
        assert len(each["embedding"]) == 128
        assert math.isclose(float(np.linalg.norm(each["embedding"])), 1.0, abs_tol=1e-4)
    areas = [f["bbox"][2] * f["bbox"][3] for f in face["faces"]]
    assert face["bbox"] == face["faces"][0]["bbox"]
    assert areas[0] == max(areas)  # the primary face is the most prominent


def test_no_face_is_a_4xx(dlib_server: Server) -> None:
    with dlib_server.client() as client:
        response = client.post("/analyze", json={"image_data": b64_flat(320, 240)})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "no_face_detected"


def test_real_identities_match_across_photos(dlib_server: Server, shared_faces: Path) -> None:
    photos = {
        "obama": shared_faces / "identities/obama/obama-480p.jpg",
        "biden": shared_faces / "identities/biden/biden.jpg",
    }
    probes = {
        "obama": shared_faces / "identities/obama/obama-240p.jpg",
        "biden": shared_faces / "identities/biden/biden2.jpg",
    }
    with dlib_server.client() as client:
        gallery = [
            client.post("/analyze", json={"image_data": b64_file(p)}).json()["embedding"]
            for p in photos.values()
        ]
        for index, name in enumerate(photos):
            probe = client.post("/analyze", json={"image_data": b64_file(probes[name])}).json()
            matches = client.post(
                "/find_matches",
                json={
                    "target_embedding": probe["embedding"],
                    "embeddings": gallery,
                    "threshold": 0.0,
                },
            ).json()
            assert matches[0]["index"] == index
