"""The compact embedding encoding: base64 little-endian float32 on /find_matches and /analyze."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest

from tests.harness import Server
from tests.integration.payloads import b64_file

pytestmark = pytest.mark.slow


def _b64(values: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f4").tobytes()).decode()


def _gallery() -> tuple[np.ndarray, np.ndarray]:
    rows = np.random.default_rng(1).standard_normal((40, 512)).astype(np.float32)
    target = rows[7] + 0.05 * rows[3]
    return rows, target.astype(np.float32)


def test_find_matches_b64_forms_equal_float_form(synthetic_server: Server) -> None:
    rows, target = _gallery()
    common = {"threshold": 0.1, "top_k": 5}
    bodies = [
        {"target_embedding": target.tolist(), "embeddings": rows.tolist()},
        {"target_embedding_b64": _b64(target), "embeddings_b64": _b64(rows), "dim": 512},
        {"target_embedding_b64": _b64(target), "embeddings_b64": [_b64(r) for r in rows]},
    ]
    with synthetic_server.client() as client:
        answers = [client.post("/find_matches", json={**b, **common}) for b in bodies]
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    first = answers[0].json()
    assert first[0]["index"] == 7
    assert all(a.json() == first for a in answers[1:])


@pytest.mark.parametrize(
    "body",
    [
        {"target_embedding_b64": "%%%notbase64", "embeddings": [[1.0, 0.0]]},
        {"target_embedding": [1.0, 0.0], "embeddings_b64": "%%%%", "dim": 2},
        {"target_embedding": [1.0, 0.0], "target_embedding_b64": "AACAPwAAAAA=",
         "embeddings": [[1.0, 0.0]]},
        {"embeddings": [[1.0, 0.0]]},
        {"target_embedding": [1.0, 0.0], "embeddings_b64": "AACAPwAAAAA="},
    ],
    ids=["bad-target-b64", "bad-rows-b64", "both-forms", "no-target", "blob-without-dim"],
)  # fmt: skip
def test_find_matches_b64_errors_are_invalid_embedding(
    synthetic_server: Server, body: dict[str, object]
) -> None:
    with synthetic_server.client() as client:
        response = client.post("/find_matches", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_embedding"


def test_analyze_can_answer_base64_embeddings(synthetic_server: Server, t1_path: Path) -> None:
    image = b64_file(t1_path)
    with synthetic_server.client() as client:
        floats = client.post("/analyze", json={"image_data": image, "include_emotions": False})
        packed = client.post(
            "/analyze",
            json={"image_data": image, "include_emotions": False, "embedding_encoding": "base64",
                  "return_all_faces": True},
        )  # fmt: skip
    assert floats.status_code == 200 and packed.status_code == 200, packed.text
    body = packed.json()
    assert "embedding" not in body
    vec = np.frombuffer(base64.b64decode(body["embedding_b64"]), dtype="<f4")
    assert vec.shape == (512,)
    assert np.allclose(vec, np.asarray(floats.json()["embedding"], np.float32), atol=0)
    assert all("embedding_b64" in face for face in body["faces"])
