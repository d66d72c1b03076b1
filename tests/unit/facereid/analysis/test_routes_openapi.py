"""The route error mapping (``json_route``) and the completed OpenAPI document."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from starlette.responses import JSONResponse, Response

from facereid.analysis.schemas import CompareResponse
from facereid.errors import NoFaceError, TooManyRowsError
from facereid.web.openapi import complete_spec
from facereid.web.routes import json_route


def body(response: Response) -> Any:
    return json.loads(bytes(response.body))


def test_sync_route_errors_become_the_contract_shape() -> None:
    @json_route
    def route(rows: int) -> dict[str, Any]:
        if rows > 2:
            raise TooManyRowsError(f"{rows} rows")
        return {"rows": rows}

    ok, refused = route(1), route(3)
    assert (ok.status_code, body(ok)) == (200, {"rows": 1})
    assert refused.status_code == 413
    assert body(refused) == {"error": {"code": "too_many_rows", "message": "3 rows"}}


def test_async_route_keeps_its_signature_and_passes_responses_through() -> None:
    import inspect

    @json_route
    async def route(image_data: str, flag: bool = False) -> Any:
        """doc"""
        if image_data == "none":
            raise NoFaceError("no face")
        if flag:
            return JSONResponse(status_code=202, content={"queued": True})
        return CompareResponse(similarity=0.5)

    assert inspect.iscoroutinefunction(route)  # BentoML awaits it instead of threading it
    assert list(inspect.signature(route).parameters) == ["image_data", "flag"]
    assert route.__doc__ == "doc"
    assert body(asyncio.run(route("x"))) == {"similarity": 0.5}
    assert asyncio.run(route("x", flag=True)).status_code == 202
    refused = asyncio.run(route("none"))
    assert (refused.status_code, body(refused)["error"]["code"]) == (422, "no_face_detected")


def test_status_is_copied_to_a_bentoml_context() -> None:
    """BentoML sets a Response's status from ``ctx.response.status_code`` when the route
    takes a context: without the copy every error would go out as 200."""
    from types import SimpleNamespace

    @json_route
    def route(job_id: str, ctx: Any) -> dict[str, Any]:
        raise NoFaceError("no face")

    ctx = SimpleNamespace(response=SimpleNamespace(status_code=200))
    assert route("x", ctx=ctx).status_code == 422
    assert ctx.response.status_code == 422


def bentoml_like_spec() -> dict[str, Any]:
    ok = {"description": "Successful Response", "content": {"application/json": {"schema": {}}}}
    bentoml_error = {"content": {"application/json": {"schema": {"$ref": "x/InvalidArgument"}}}}
    post = {"x-bentoml-name": "analyze", "responses": {200: ok, 400: bentoml_error}}
    return {
        "paths": {
            "/analyze": {"post": post},
            "/video/submit": {"post": {"x-bentoml-name": "video_submit", "responses": {200: ok}}},
            "/healthz": {"get": {"responses": {"200": {}}}},
        },
        "components": {"schemas": {"InvalidArgument": {}}},
    }


def test_spec_gets_our_error_shape_health_and_the_202() -> None:
    spec = json.loads(json.dumps(complete_spec(bentoml_like_spec())))
    analyze = spec["paths"]["/analyze"]["post"]["responses"]
    assert {"200", "400", "401", "413", "415", "422", "429", "503", "504"} <= set(analyze)
    assert analyze["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorResponse"
    }
    assert "InvalidArgument" not in spec["components"]["schemas"]
    error = spec["components"]["schemas"]["ErrorDetail"]
    assert set(error["required"]) == {"code", "message"}
    health = spec["paths"]["/health"]["get"]["responses"]
    assert health["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/HealthResponse"
    )
    submit = spec["paths"]["/video/submit"]["post"]["responses"]
    assert "202" in submit and "200" not in submit
    assert spec["paths"]["/healthz"] == {"get": {"responses": {"200": {}}}}  # infra untouched


@pytest.mark.parametrize("missing", ["/analyze", "/video/submit"])
def test_spec_input_is_not_modified(missing: str) -> None:
    original = bentoml_like_spec()
    complete_spec(original)
    assert 400 in original["paths"]["/analyze"]["post"]["responses"]
    assert "/health" not in original["paths"] and missing in original["paths"]
