"""``/docs.json`` is a valid OpenAPI 3.1 document (issue 23), checked on the served bytes with
``openapi-spec-validator``, and real answers whose fields are null validate against it.

Before: ``openapi: 3.0.2`` with 3.1 ``type: null`` (91 times), ``type: file`` for the upload,
``oneOf`` failures at ``/gallery/enroll_batch`` and ``/video/result``, nullable request fields
and the one-blob ``embeddings_b64`` dropped, and BentoML's own advertising as the description.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate

from tests.harness import Server
from tests.integration.payloads import b64_file

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(dlib_server: Server) -> dict[str, Any]:
    with dlib_server.client() as client:
        response = client.get("/docs.json")
    assert response.status_code == 200
    document: dict[str, Any] = json.loads(response.content.decode("utf-8"))
    return document


def test_the_served_document_is_valid_openapi_3_1(served: dict[str, Any]) -> None:
    assert served["openapi"].startswith("3.1")
    validate(served)  # raises on the first violation
    assert "BentoML Slack" not in served["info"].get("description", "")


def pointer(path: str, status: str = "200") -> str:
    escaped = path.replace("~", "~0").replace("/", "~1")
    return f"#/paths/{escaped}/post/responses/{status}/content/application~1json/schema"


def check(served: dict[str, Any], path: str, answer: Any) -> None:
    schema = {**served, "$ref": pointer(path)}  # refs resolve inside the served document
    jsonschema.Draft202012Validator(schema).validate(answer)


def request_schema(served: dict[str, Any], path: str, media: str) -> dict[str, Any]:
    body = served["paths"][path]["post"]["requestBody"]["content"][media]["schema"]
    while "$ref" in body:  # each route's request model is named in components
        body = served["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]
    return dict(body)


def test_request_schemas_keep_null_the_blob_form_and_binary_uploads(
    served: dict[str, Any],
) -> None:
    matches = request_schema(served, "/find_matches", "application/json")["properties"]
    kinds = [option.get("type") for option in matches["embeddings_b64"]["anyOf"]]
    assert {"array", "string", "null"} <= set(kinds)
    video = request_schema(served, "/video/submit", "multipart/form-data")["properties"]["video"]
    assert video["type"] == "string" and video["format"] == "binary"
    assert '"type": "file"' not in json.dumps(served)  # not an OpenAPI type anywhere


def test_real_answers_with_nulls_match_their_declared_schemas(
    served: dict[str, Any], dlib_server: Server, t1_path: Any
) -> None:
    with dlib_server.client(timeout=120) as client:
        body = {"image_data": b64_file(t1_path), "include_emotions": False}
        analyzed = client.post("/analyze", json=body).json()
        assert analyzed["emotions"] is None and analyzed["emotion_model"] is None
        check(served, "/analyze", analyzed)
        enrolled = client.post(
            "/gallery/enroll",
            json={
                "gallery": "openapi-nulls",
                "embedding": analyzed["embedding"],
                "embedding_model": analyzed["embedding_model"],
            },
        ).json()
        assert enrolled["subject"] is None
        check(served, "/gallery/enroll", enrolled)
        for path in ("/gallery/subjects", "/gallery/faces"):
            page = client.post(path, json={"gallery": "openapi-nulls"}).json()
            assert page["next_cursor"] is None
            check(served, path, page)
    status = served["components"]["schemas"]["VideoJobStatus"]["properties"]
    for field in ("started_at", "finished_at", "expires_at"):
        assert {"type": "null"} in status[field]["anyOf"], field
