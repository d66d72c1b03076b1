"""The OpenAPI at ``/docs.json``: BentoML's generated document, completed with what BentoML
cannot know.

BentoML 1.4.40 (``_bentoml_sdk/service/openapi.py``) documents each ``@bentoml.api`` as a POST
with its ``output_spec`` as the 200 answer and its own exception bodies (400/404/500) as the
errors, and nothing that middlewares answer. This adds the contract's error shape
(``ErrorResponse``) with each route's error statuses in place of BentoML's, ``GET /health``
(answered by ``GetRoutesMiddleware``), and the 202 of ``/video/submit``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel

from facereid.analysis.schemas import ErrorResponse, HealthResponse, VideoJobStatus
from facereid.web.contract import JSONHandler

REF = "#/components/schemas/{model}"
BENTOML_ERRORS = ("InvalidArgument", "NotFound", "InternalServerError")
# Statuses every route can answer: malformed JSON or base64, no/invalid key, body too large,
# schema or value errors, rate limit.
COMMON_ERRORS = {
    400: "malformed JSON or base64",
    401: "missing or invalid API key (when keys are configured)",
    413: "request body, image, batch or gallery over its limit",
    422: "request does not match the schema, or a value is invalid",
    429: "over the rate limit (Retry-After says when to retry)",
}
MODEL_ERRORS = {
    415: "not a supported image format",
    503: "a model service is unavailable or overloaded",
    504: "a model service did not answer in time",
}
ROUTE_ERRORS: dict[str, dict[int, str]] = {
    "/analyze": MODEL_ERRORS,
    "/analyze_batch": MODEL_ERRORS,
    "/video/submit": {415: "not a supported video format", 429: "too many video jobs"},
    "/video/status": {404: "unknown or expired job id"},
    "/video/result": {
        404: "unknown or expired job id",
        409: "the job has not finished, or was cancelled",
        500: "the job failed (its error says why)",
    },
    "/video/cancel": {404: "unknown or expired job id"},
}


def complete_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of BentoML's spec with our error responses, ``GET /health`` and the 202."""
    out = copy.deepcopy(dict(spec))
    schemas = out.setdefault("components", {}).setdefault("schemas", {})
    for model in (ErrorResponse, HealthResponse, VideoJobStatus):
        _add_schema(schemas, model)
    for replaced in BENTOML_ERRORS:  # referenced only by the responses replaced below
        schemas.pop(replaced, None)
    error = _json_response(ErrorResponse)
    for path, item in out.get("paths", {}).items():
        post = item.get("post") if isinstance(item, dict) else None
        if post is None or "x-bentoml-name" not in post:
            continue  # BentoML's own infra endpoints
        ok = {str(status): answer for status, answer in post["responses"].items()}["200"]
        responses = {"200": ok}  # asdict() keys statuses by int, the JSON by string
        for status, why in sorted({**COMMON_ERRORS, **ROUTE_ERRORS.get(path, {})}.items()):
            responses[str(status)] = {"description": why, **error}
        if path == "/video/submit":
            responses["202"] = {"description": "job accepted", **_json_response(VideoJobStatus)}
            del responses["200"]
        post["responses"] = responses
    out["paths"]["/health"] = {
        "get": {
            "tags": ["Infrastructure"],
            "summary": "service and model state",
            "operationId": "health",
            "responses": {
                "200": {"description": "healthy or degraded", **_json_response(HealthResponse)},
                "503": {"description": "starting or unavailable", **_json_response(HealthResponse)},
            },
        }
    }
    return out


def docs_endpoint(spec: Callable[[], Mapping[str, Any]]) -> JSONHandler:
    """A ``GetRoutesMiddleware`` handler for ``/docs.json``, built once on first use."""
    built: dict[str, Any] = {}

    async def handler() -> tuple[int, dict[str, Any]]:
        if "spec" not in built:
            built["spec"] = complete_spec(spec())
        return 200, built["spec"]

    return handler


def _add_schema(schemas: dict[str, Any], model: type[BaseModel]) -> None:
    schema = model.model_json_schema(ref_template=REF)
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema


def _json_response(model: type[BaseModel]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}}}
