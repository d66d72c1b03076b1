"""The contract middleware: one error shape, request ids, secure headers, access logs."""

from __future__ import annotations

import json
import logging

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from facereid.web.chain import get_routes_app
from facereid.web.contract import ContractMiddleware, error_body


async def ok(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True}, headers={"server": "uvicorn"})


async def bentoml_validation(request: Request) -> JSONResponse:
    detail = [{"type": "missing", "loc": ["image_data"], "msg": "Field required"}]
    return JSONResponse({"error": "1 validation error", "detail": detail}, status_code=400)


async def bentoml_unknown_fields(request: Request) -> JSONResponse:
    """What BentoML answers for a model that forbids extras (facereid.web.strict_inputs)."""
    count = int(request.query_params.get("n", "1"))
    detail = [
        {"type": "extra_forbidden", "loc": [f"subjet{i or ''}"], "msg": "Extra inputs are..."}
        for i in range(count)
    ] + [{"type": "missing", "loc": ["gallery"], "msg": "Field required"}]
    return JSONResponse({"error": f"{count + 1} validation errors", "detail": detail}, 400)


async def bentoml_bad_json(request: Request) -> JSONResponse:
    detail = [{"type": "json_invalid", "loc": [], "msg": "Invalid JSON"}]
    return JSONResponse({"error": "1 validation error", "detail": detail}, status_code=400)


async def ours(request: Request) -> JSONResponse:
    return JSONResponse(json.loads(error_body("no_face_detected", "no face")), status_code=422)


async def crash(request: Request) -> PlainTextResponse:
    return PlainTextResponse("Traceback (most recent call last): secret", status_code=500)


async def health() -> tuple[int, dict[str, object]]:
    return 200, {"status": "healthy"}


routes = [
    Route("/ok", ok, methods=["POST"]),
    Route("/validation", bentoml_validation, methods=["POST"]),
    Route("/badjson", bentoml_bad_json, methods=["POST"]),
    Route("/unknown", bentoml_unknown_fields, methods=["POST"]),
    Route("/ours", ours, methods=["POST"]),
    Route("/crash", crash, methods=["POST"]),
]
# As in service.py: starlette middleware (scope["app"] set), GET routes inside the contract.
app = Starlette(
    routes=[*routes, *get_routes_app({"/health": health}).routes],
    middleware=[Middleware(ContractMiddleware)],
)
client = TestClient(app)


def test_success_gets_security_headers_and_request_id_and_no_server_banner() -> None:
    response = client.post("/ok", headers={"x-request-id": "abc-123"})
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-request-id"] == "abc-123"
    assert "server" not in response.headers


def test_bentoml_validation_error_becomes_contract_422() -> None:
    response = client.post("/validation")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["fields"] == [{"field": "image_data", "problem": "Field required"}]


def test_an_unknown_field_is_named_in_the_message_and_its_fields_entry() -> None:
    response = client.post("/unknown")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"] == "unknown field 'subjet'"
    assert error["fields"] == [
        {"field": "subjet", "problem": "unknown field"},
        {"field": "gallery", "problem": "Field required"},
    ]


def test_many_unknown_fields_name_five_and_count_the_rest() -> None:
    error = client.post("/unknown?n=7").json()["error"]
    assert error["message"] == (
        "unknown fields 'subjet', 'subjet1', 'subjet2', 'subjet3', 'subjet4' and 2 more"
    )
    assert len(error["fields"]) == 8  # every unknown field, and the missing one


def test_malformed_json_is_400() -> None:
    response = client.post("/badjson")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


def test_contract_errors_pass_through_unchanged() -> None:
    response = client.post("/ours")
    assert response.status_code == 422
    assert response.json() == {"error": {"code": "no_face_detected", "message": "no face"}}
    assert response.headers["x-frame-options"] == "DENY"


def test_server_errors_hide_details() -> None:
    response = client.post("/crash")
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "internal_error", "message": "internal error"}}
    assert "Traceback" not in response.text


def test_unknown_route_is_contract_404() -> None:
    response = client.get("/missing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_get_endpoint_and_method_check() -> None:
    assert client.get("/health").json() == {"status": "healthy"}
    response = client.post("/health")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_access_log_has_request_fields(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="facereid.access"):
        client.post("/validation", headers={"x-request-id": "rid-1"})
    record = next(r for r in caplog.records if r.name == "facereid.access")
    fields = record.request  # type: ignore[attr-defined]
    assert fields["request_id"] == "rid-1"
    assert fields["status"] == 422
    assert fields["route"] == "/validation"
    assert fields["error_code"] == "invalid_request"
