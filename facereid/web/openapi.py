"""The OpenAPI at ``/docs.json``: BentoML's generated document, completed with what BentoML
cannot know, and made a valid OpenAPI 3.1 document (issue 23).

BentoML 1.4.40 (``_bentoml_sdk/service/openapi.py``) documents each ``@bentoml.api`` as a POST
with its ``output_spec`` as the 200 answer and its own exception bodies (400/404/500) as the
errors, and nothing that middlewares answer. This adds the contract's error shape
(``ErrorResponse``) with each route's error statuses in place of BentoML's, ``GET /health``
(the mounted ``chain.get_routes_app``), and the 202 of ``/video/submit``.

BentoML's document also says ``openapi: 3.0.2`` while writing 3.1 schemas (``type: null``),
drops the ``null`` of optional request fields and the one-blob ``str`` form of
``embeddings_b64``, and types uploads ``type: file`` (not an OpenAPI type); client generators
refuse it. With ``models`` (each route's pydantic input and output models, as the service
validates them) every request body and 200 answer is the model's own JSON Schema (2020-12, as
3.1 uses), uploads are ``string``/``binary``, and the version says 3.1.0.
"""

from __future__ import annotations

import copy
import importlib.metadata
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from facereid.analysis.schemas import HealthResponse
from facereid.video.schemas import VideoJobStatus
from facereid.web.contract import JSONHandler
from facereid.wire.errors import ErrorResponse

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
    "/tenant/erase": {503: "the gallery store is unavailable; nothing may have been erased"},
}


OPENAPI_VERSION = "3.1.0"
DESCRIPTION = (
    "Face detection, embeddings, expressions and re-identification across photos, videos and "
    'server-side galleries. Errors are always `{"error": {"code", "message"}}` with a '
    "stable code. The repository's docs/api.md lists every field, limit and code."
)


@dataclass(frozen=True)
class RouteModels:
    """What a route validates and answers (BentoML's ``input_spec`` / ``output_spec``)."""

    request: type[BaseModel]
    response: type[BaseModel]
    media_type: str  # of the request body


def complete_spec(
    spec: Mapping[str, Any], models: Mapping[str, RouteModels] | None = None
) -> dict[str, Any]:
    """A copy of BentoML's spec with our error responses, ``GET /health``, the 202 and, with
    ``models``, each route's true request and answer schemas."""
    out = copy.deepcopy(dict(spec))
    out["openapi"] = OPENAPI_VERSION
    info = out.setdefault("info", {})
    info["description"] = DESCRIPTION  # BentoML's own says "created with BentoML", Slack, ...
    info["version"] = _package_version()  # BentoML says "None" when served from source
    info.pop("contact", None)
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
        if models and path in models:
            _use_models(post, responses, schemas, models[path])
        if path == "/video/submit":
            responses["202"] = {"description": "job accepted", **_json_response(VideoJobStatus)}
            del responses["200"]
        post["responses"] = responses
    _uploads_as_binary(out)
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
    if models:
        _drop_unreferenced(out)
    return out


def docs_endpoint(
    spec: Callable[[], Mapping[str, Any]],
    models: Callable[[], Mapping[str, RouteModels]] | None = None,
) -> JSONHandler:
    """The ``/docs.json`` handler of ``chain.get_routes_app``, built once on first use."""
    built: dict[str, Any] = {}

    async def handler() -> tuple[int, dict[str, Any]]:
        if "spec" not in built:
            built["spec"] = complete_spec(spec(), models() if models else None)
        return 200, built["spec"]

    return handler


def _use_models(
    post: dict[str, Any],
    responses: dict[str, Any],
    schemas: dict[str, Any],
    route: RouteModels,
) -> None:
    request_name = "".join(w.title() for w in str(post["x-bentoml-name"]).split("_")) + "Request"
    schemas[request_name] = {**_inline_schema(route.request, schemas), "title": request_name}
    body = {"schema": {"$ref": REF.format(model=request_name)}}
    post["requestBody"] = {"required": True, "content": {route.media_type: body}}
    answer = _inline_schema(route.response, schemas)
    name = _model_name(route.response)
    schemas[name] = {**answer, "title": name}
    ref = {"$ref": REF.format(model=name)}
    responses["200"] = {**responses["200"], "content": {"application/json": {"schema": ref}}}


def _inline_schema(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, Any]:
    """The model's JSON Schema, its nested models moved to ``components/schemas``."""
    schema = model.model_json_schema(ref_template=REF)
    schemas.update(schema.pop("$defs", {}))
    return schema


def _package_version() -> str:
    try:
        return importlib.metadata.version("facereid")
    except importlib.metadata.PackageNotFoundError:  # a Bento without the package's metadata
        return "unknown"


def _model_name(model: type[BaseModel]) -> str:
    """Our model's own name: BentoML answers with a subclass per route (``...IODescriptor``)."""
    for klass in model.__mro__:
        if klass.__module__.startswith("facereid.") and issubclass(klass, BaseModel):
            return klass.__name__
    return model.__name__


def _drop_unreferenced(document: dict[str, Any]) -> None:
    """Components nothing points at any more (BentoML's own input models, once replaced)."""
    schemas = document.get("components", {}).get("schemas", {})
    while True:
        text = json.dumps({k: v for k, v in document.items() if k != "components"})
        text += json.dumps(schemas)
        unused = [name for name in schemas if f'"{REF.format(model=name)}"' not in text]
        if not unused:
            return
        for name in unused:
            del schemas[name]


def _uploads_as_binary(node: Any) -> None:
    """BentoML types a file field ``type: file``; OpenAPI 3.1 says ``string`` + binary.
    Walks the whole document: BentoML also keeps its input models under components."""
    if isinstance(node, dict):
        if node.get("type") == "file":
            node["type"] = "string"
            node["format"] = "binary"
            node["contentMediaType"] = "application/octet-stream"
        for value in node.values():
            _uploads_as_binary(value)
    elif isinstance(node, list):
        for value in node:
            _uploads_as_binary(value)


def _add_schema(schemas: dict[str, Any], model: type[BaseModel]) -> None:
    schema = model.model_json_schema(ref_template=REF)
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema


def _json_response(model: type[BaseModel]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}}}
