"""The answer checker itself: an answer outside its declared schema fails, one inside passes,
and what it cannot judge passes through (no server: a mock transport serves both)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.integration.schema_check import AnswerChecker

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "paths": {
        "/compare": {
            "post": {
                "responses": {
                    "200": {
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/CompareResponse"}
                            }
                        }
                    }
                }
            }
        }
    },
    "components": {
        "schemas": {
            "CompareResponse": {
                "type": "object",
                "properties": {"similarity": {"type": "number"}, "match": {"type": "boolean"}},
                "required": ["similarity", "match"],
            }
        }
    },
}


def serve(answer: Any, status: int = 200) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/docs.json":
            return httpx.Response(200, json=DOCUMENT)
        return httpx.Response(
            status,
            content=json.dumps(answer).encode(),
            headers={"content-type": "application/json"},
        )

    return httpx.Client(transport=httpx.MockTransport(handler), base_url="http://svc")


def checker_for(client: httpx.Client) -> AnswerChecker:
    return AnswerChecker(lambda url: client.get(url))


def test_an_answer_outside_its_schema_fails_naming_route_and_field() -> None:
    client = serve({"similarity": "0.9", "match": True})
    checker = checker_for(client)
    with pytest.raises(AssertionError, match=r"POST /compare .* at similarity"):
        checker.check(client.post("/compare", json={}))


def test_a_missing_required_field_fails() -> None:
    client = serve({"similarity": 0.9})
    with pytest.raises(AssertionError, match="'match' is a required property"):
        checker_for(client).check(client.post("/compare", json={}))


def test_a_conforming_answer_passes_and_is_counted() -> None:
    client = serve({"similarity": 0.9, "match": True})
    checker = checker_for(client)
    checker.check(client.post("/compare", json={}))
    assert checker.checked == 1


def test_errors_and_undeclared_routes_pass_through_unchecked() -> None:
    client = serve({"anything": 1}, status=422)
    checker = checker_for(client)
    checker.check(client.post("/compare", json={}))
    checker.check(serve({"anything": 1}).post("/not-declared", json={}))
    assert checker.checked == 0


def test_a_server_without_our_3_1_document_is_not_judged() -> None:
    """BentoML's own 3.0 documents (the CLIP-only service) drop null from nullable fields."""
    old = {**DOCUMENT, "openapi": "3.0.2"}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/docs.json":
            return httpx.Response(200, json=old)
        return httpx.Response(200, json={"similarity": None})

    client = httpx.Client(transport=httpx.MockTransport(handler), base_url="http://svc")
    checker = checker_for(client)
    checker.check(client.post("/compare", json={}))
    assert checker.checked == 0
