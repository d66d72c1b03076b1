"""``/docs.json`` against a real server: documented 200 answers, the contract's error shape,
``GET /health``; and real answers validate against the documented models."""

from __future__ import annotations

from typing import Any

import pytest

from facereid.analysis.schemas import (
    AnalyzeResponse,
    CompareResponse,
    HealthResponse,
    MatchesResponse,
)
from facereid.wire.errors import ErrorResponse
from tests.harness import Server
from tests.integration.payloads import b64_file

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spec(synthetic_server: Server) -> dict[str, Any]:
    with synthetic_server.client() as client:
        response = client.get("/docs.json")
    assert response.status_code == 200
    return dict(response.json())


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def ok_schema(spec: dict[str, Any], path: str) -> dict[str, Any]:
    answer = spec["paths"][path]["post"]["responses"]["200"]
    return resolve(spec, answer["content"]["application/json"]["schema"])


def test_analyze_compare_find_matches_document_their_200(spec: dict[str, Any]) -> None:
    analyze = ok_schema(spec, "/analyze")
    assert {"face_id", "bbox", "embedding", "emotions", "num_faces"} <= set(analyze["properties"])
    assert analyze["properties"]["bbox"]["minItems"] == 4
    assert "width" in analyze["properties"]["bbox"]["description"]
    compare = ok_schema(spec, "/compare")["properties"]
    assert set(compare) == {"similarity", "operating_point", "threshold", "match"}
    assert {"type": "null"} in compare["match"]["anyOf"]  # only with an operating_point
    matches = ok_schema(spec, "/find_matches")
    assert matches["type"] == "array"
    assert set(resolve(spec, matches["items"])["properties"]) == {"index", "similarity"}
    for path, item in spec["paths"].items():
        if "post" in item and "x-bentoml-name" in item["post"]:
            answers = item["post"]["responses"]
            ok = answers.get("200") or answers["202"]
            assert resolve(spec, ok["content"]["application/json"]["schema"]), path


def test_errors_are_documented_in_the_contract_shape(spec: dict[str, Any]) -> None:
    answers = spec["paths"]["/analyze"]["post"]["responses"]
    for status in ("400", "413", "415", "422", "503", "504"):
        schema = resolve(spec, answers[status]["content"]["application/json"]["schema"])
        assert set(schema["required"]) == {"error"}, status
    detail = spec["components"]["schemas"]["ErrorDetail"]
    assert set(detail["required"]) == {"code", "message"}


def test_get_health_is_listed(spec: dict[str, Any]) -> None:
    health = spec["paths"]["/health"]["get"]["responses"]
    assert {"200", "503"} <= set(health)
    schema = resolve(spec, health["200"]["content"]["application/json"]["schema"])
    assert {"status", "clip_service"} <= set(schema["properties"])


def test_real_answers_match_the_documented_models(synthetic_server: Server, t1_path: Any) -> None:
    with synthetic_server.client() as client:
        HealthResponse.model_validate(client.get("/health").json())
        body = {"image_data": b64_file(t1_path), "return_all_faces": True}
        analyzed = client.post("/analyze", json=body).json()
        AnalyzeResponse.model_validate(analyzed)
        compare = {"face1_embedding": analyzed["embedding"], "face2_embedding": [1.0] * 512}
        CompareResponse.model_validate(client.post("/compare", json=compare).json())
        gallery = [face["embedding"] for face in analyzed["faces"]]
        find = {"target_embedding": analyzed["embedding"], "embeddings": gallery}
        MatchesResponse.model_validate(client.post("/find_matches", json=find).json())
        refused = client.post("/compare", json={"face1_embedding": [1.0]})
        assert refused.status_code == 422
        ErrorResponse.model_validate(refused.json())
