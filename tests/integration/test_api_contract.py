"""Every endpoint with the seed's example requests, against a real server with the synthetic
InsightFace pack and synthetic CLIP."""

from __future__ import annotations

import math
import re
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.harness import Server
from tests.integration.payloads import b64_file

pytestmark = pytest.mark.slow

SEED_FIELDS = {"face_id", "bbox", "landmarks", "embedding", "confidence", "emotions", "timestamp"}
DEFAULT_LABELS = {"happy", "sad", "angry", "surprised", "fearful", "disgusted", "neutral"}


def assert_seed_shape(face: dict[str, Any], image_size: tuple[int, int]) -> None:
    assert SEED_FIELDS <= face.keys()
    assert uuid.UUID(face["face_id"]).version == 4
    x, y, w, h = face["bbox"]
    assert w >= 20 and h >= 20  # the seed's smallest face
    assert -w <= x <= image_size[0] and -h <= y <= image_size[1]
    assert all(len(point) == 2 for point in face["landmarks"])
    assert len(face["landmarks"]) in (5, 106)
    vector = np.asarray(face["embedding"])
    assert vector.shape == (512,)
    assert math.isclose(float(np.linalg.norm(vector)), 1.0, abs_tol=1e-4)
    assert 0.0 <= face["confidence"] <= 1.0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", face["timestamp"])


def test_health_names_synthetic_models(synthetic_server: Server) -> None:
    with synthetic_server.client() as client:
        body = client.get("/health").json()
    assert body["status"] == "healthy"
    assert body["clip_service"] == "available"
    assert body["engine"] == "insightface"
    assert body["face_model"]["synthetic"] is True
    assert body["face_model"]["license"]["status"] == "default_non_commercial"
    assert body["face_model"]["license"]["grant"] == "non-commercial"
    assert body["clip_model"]["synthetic"] is True
    assert "synthetic" in body["warning"]


def test_analyze_returns_seed_shape(synthetic_server: Server, t1_path: Path) -> None:
    with synthetic_server.client() as client:
        response = client.post("/analyze", json={"image_data": b64_file(t1_path)})
    assert response.status_code == 200, response.text
    face = response.json()
    assert_seed_shape(face, (1280, 886))
    assert set(face["emotions"]) == DEFAULT_LABELS
    assert math.isclose(sum(face["emotions"].values()), 1.0, abs_tol=1e-5)
    assert face["model_synthetic"] is True
    assert face["embedding_model"].startswith("insightface/")
    assert face["num_faces"] >= 1
    assert response.headers["x-content-type-options"] == "nosniff"


def test_analyze_accepts_data_url_and_all_faces(synthetic_server: Server, t1_path: Path) -> None:
    body = {"image_data": "data:image/jpeg;base64," + b64_file(t1_path), "return_all_faces": True}
    with synthetic_server.client() as client:
        face = client.post("/analyze", json=body).json()
    assert len(face["faces"]) == face["num_faces"]
    assert face["faces"][0]["bbox"] == face["bbox"]
    assert len({f["face_id"] for f in face["faces"]}) == len(face["faces"])


def test_analyze_custom_emotion_labels(synthetic_server: Server, t1_path: Path) -> None:
    body = {"image_data": b64_file(t1_path), "emotion_labels": ["calm", "excited", "bored"]}
    with synthetic_server.client() as client:
        face = client.post("/analyze", json=body).json()
    assert set(face["emotions"]) == {"calm", "excited", "bored"}
    assert math.isclose(sum(face["emotions"].values()), 1.0, abs_tol=1e-5)


def test_compare_seed_example(synthetic_server: Server) -> None:
    with synthetic_server.client() as client:
        body = client.post(
            "/compare",
            json={"face1_embedding": [1.0, 0.0, 1.0], "face2_embedding": [1.0, 0.0, 0.0]},
        ).json()
    assert body == {"similarity": pytest.approx(1 / math.sqrt(2), abs=1e-6)}


def test_find_matches_seed_example(synthetic_server: Server) -> None:
    request = {
        "target_embedding": [1.0, 0.0],
        "embeddings": [[0.0, 1.0], [1.0, 0.1], [1.0, 1.0], [-1.0, 0.0]],
        "threshold": 0.5,
    }
    with synthetic_server.client() as client:
        body = client.post("/find_matches", json=request).json()
    assert [m["index"] for m in body] == [1, 2]
    assert body[0]["similarity"] == pytest.approx(1 / math.sqrt(1.01), abs=1e-6)
    assert body[1]["similarity"] == pytest.approx(1 / math.sqrt(2), abs=1e-6)


def test_analyze_batch_keeps_order_and_per_image_errors(
    synthetic_server: Server, t1_path: Path
) -> None:
    t1 = b64_file(t1_path)
    with synthetic_server.client() as client:
        single = client.post("/analyze", json={"image_data": t1}).json()
        body = client.post("/analyze_batch", json={"images": [t1, "not base64!!", t1]}).json()
    results = body["results"]
    assert len(results) == 3
    assert results[1]["error"]["code"] == "invalid_base64"
    for result in (results[0], results[2]):
        assert result["bbox"] == single["bbox"]
        assert np.allclose(result["embedding"], single["embedding"], atol=1e-5)
