"""A bad-input matrix over every endpoint: each case gets its documented 4xx code in the
contract's error shape, nothing answers 500, and the server keeps serving."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from tests.harness import Server
from tests.integration.payloads import b64_file, b64_flat

pytestmark = pytest.mark.slow


def _bomb_png() -> str:
    """A small PNG whose header declares 20000 x 20000 pixels."""
    buffer = io.BytesIO()
    Image.new("L", (20000, 20000)).save(buffer, format="PNG", optimize=False)
    return base64.b64encode(buffer.getvalue()).decode()


CASES: list[tuple[str, str, object, int, str]] = [
    ("analyze malformed json", "/analyze", b"{not json", 400, "malformed_json"),
    ("analyze missing field", "/analyze", {}, 422, "invalid_request"),
    ("analyze wrong type", "/analyze", {"image_data": 12}, 422, "invalid_request"),
    ("analyze invalid base64", "/analyze", {"image_data": "@@@@"}, 400, "invalid_base64"),
    ("analyze empty string", "/analyze", {"image_data": ""}, 400, "empty_image"),
    (
        "analyze not an image",
        "/analyze",
        {"image_data": base64.b64encode(b"hello world, no image").decode()},
        415,
        "unsupported_image",
    ),
    ("analyze too wide", "/analyze", {"image_data": b64_flat(4097, 8)}, 413, "image_too_large"),
    ("analyze bomb", "/analyze", {"image_data": _bomb_png()}, 413, "decompression_bomb"),
    ("analyze tiny image", "/analyze", {"image_data": b64_flat(8, 8)}, 422, "image_too_small"),
    (
        "analyze bad labels",
        "/analyze",
        {"image_data": b64_flat(64, 64), "emotion_labels": []},
        422,
        "invalid_emotion_labels",
    ),
    ("batch empty", "/analyze_batch", {"images": []}, 422, "empty_batch"),
    ("batch too many", "/analyze_batch", {"images": ["x"] * 33}, 413, "batch_too_large"),
    ("batch wrong type", "/analyze_batch", {"images": "abc"}, 422, "invalid_request"),
    (
        "compare empty",
        "/compare",
        {"face1_embedding": [], "face2_embedding": [1.0]},
        422,
        "invalid_embedding",
    ),
    (
        "compare mismatched",
        "/compare",
        {"face1_embedding": [1.0, 2.0], "face2_embedding": [1.0]},
        422,
        "invalid_embedding",
    ),
    (
        "compare zero",
        "/compare",
        {"face1_embedding": [0.0, 0.0], "face2_embedding": [1.0, 0.0]},
        422,
        "invalid_embedding",
    ),
    (
        "compare nan",
        "/compare",
        b'{"face1_embedding": [NaN, 1.0], "face2_embedding": [1.0, 0.0]}',
        422,
        "invalid_embedding",
    ),
    (
        "compare infinity",
        "/compare",
        b'{"face1_embedding": [Infinity, 1.0], "face2_embedding": [1.0, 0.0]}',
        422,
        "invalid_embedding",
    ),
    (
        "compare strings",
        "/compare",
        {"face1_embedding": ["a"], "face2_embedding": [1.0]},
        422,
        "invalid_request",
    ),
    (
        "matches threshold too high",
        "/find_matches",
        {"target_embedding": [1.0, 0.0], "embeddings": [[1.0, 0.0]], "threshold": 1.5},
        422,
        "invalid_threshold",
    ),
    (
        "matches ragged rows",
        "/find_matches",
        {"target_embedding": [1.0, 0.0], "embeddings": [[1.0, 0.0], [1.0]], "threshold": 0.1},
        422,
        "invalid_embedding",
    ),
    (
        "matches zero row",
        "/find_matches",
        {"target_embedding": [1.0, 0.0], "embeddings": [[0.0, 0.0]], "threshold": 0.1},
        422,
        "invalid_embedding",
    ),
    (
        "matches too many rows",
        "/find_matches",
        {"target_embedding": [1.0], "embeddings": [[1.0]] * 100_001, "threshold": 0.1},
        413,
        "too_many_rows",
    ),
    (
        "compare different models",
        "/compare",
        {
            "face1_embedding": [1.0, 0.0],
            "face2_embedding": [1.0, 0.0],
            "face1_model": "insightface/buffalo_l/512",
            "face2_model": "dlib/dlib_face_recognition_resnet_model_v1/128",
        },
        422,
        "embedding_model_mismatch",
    ),
    (
        "matches different models",
        "/find_matches",
        {
            "target_embedding": [1.0, 0.0],
            "embeddings": [[1.0, 0.0]],
            "target_model": "a/b/2",
            "embeddings_model": "c/d/2",
        },
        422,
        "embedding_model_mismatch",
    ),
    ("unknown route", "/nope", {}, 404, "not_found"),
]


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_input_gets_its_code(
    synthetic_server: Server, path: str, body: object, status: int, code: str
) -> None:
    with synthetic_server.client() as client:
        if isinstance(body, bytes):
            response = client.post(path, content=body, headers={"content-type": "application/json"})
        else:
            response = client.post(path, json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in response.text
    assert response.headers["x-frame-options"] == "DENY"


def test_server_still_serves_after_bad_input(synthetic_server: Server, t1_path: Path) -> None:
    with synthetic_server.client() as client:
        for case in CASES[:8]:
            client.post(case[1], json=case[2]) if not isinstance(case[2], bytes) else None
        response = client.post("/analyze", json={"image_data": b64_file(t1_path)})
    assert response.status_code == 200
