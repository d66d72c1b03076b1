"""json_route's answers (facereid/web/routes.py): orjson renders the same JSON values the
standard encoder did, errors keep the contract's shape and status."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from facereid.errors import NoFaceError
from facereid.web.routes import FastJSONResponse, json_route


def analyze_like() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    embedding = rng.normal(size=512).astype(np.float32)
    return {
        "face_id": "7d1c0c3e-1b1f-4c9e-9d6a-2f0b5c1e8a11",
        "bbox": [10.25, 20.5, 100.0, 120.75],
        "embedding": (embedding / np.linalg.norm(embedding)).tolist(),
        "landmarks": [[1.23, 4.56]] * 106,
        "emotions": {"happy": 0.912345, "sad": 1e-07},
        "confidence": 0.999999,
        "num_faces": 3,
        "model_synthetic": False,
        "label": "Zoë 😀",
        "faces": None,
    }


def test_values_are_what_the_standard_encoder_gave() -> None:
    body = analyze_like()
    rendered = bytes(FastJSONResponse(content=body).body)
    assert json.loads(rendered) == json.loads(json.dumps(body))
    assert rendered.decode("utf-8").count("Zoë") == 1  # UTF-8, not \\u escapes


def test_a_non_json_value_fails_loudly() -> None:
    with pytest.raises(TypeError):
        FastJSONResponse(content={"x": object()})


def test_a_route_answers_json_and_an_error_its_contract_body() -> None:
    @json_route
    def ok() -> dict[str, Any]:
        return {"similarity": 0.5}

    @json_route
    def refused() -> dict[str, Any]:
        raise NoFaceError("no face found in the image")

    good = ok()
    assert good.status_code == 200 and json.loads(bytes(good.body)) == {"similarity": 0.5}
    assert good.headers["content-type"] == "application/json"
    bad = refused()
    assert bad.status_code == 422
    assert json.loads(bytes(bad.body))["error"]["code"] == "no_face_detected"
