"""Pure ASGI pieces the API service mounts: one error shape for every error, a request id,
secure headers, and a JSON ``GET`` endpoint.

BentoML answers its own validation errors as ``{"error": "...", "detail": [...]}`` and unknown
routes as plain text; this middleware rewrites every 4xx/5xx body that is not already in the
contract's shape into ``{"error": {"code": ..., "message": ...}}``, so clients see one format.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from facereid.errors import FaceReIDError, echo

logger = logging.getLogger("facereid.access")
UNMATCHED_ROUTE = "unmatched"  # facereid.ops.metrics.UNMATCHED_ROUTE, without importing it

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),
]

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
    504: "timeout",
}


def error_body(code: str, message: str, **extra: Any) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message}
    error.update(extra)
    return json.dumps({"error": error}).encode()


async def send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """The contract's error answer for a middleware that answers before the app."""
    body = error_body(code, message)
    start_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": start_headers})
    await send({"type": "http.response.body", "body": body})


async def send_json_error(
    send: Send, error: FaceReIDError, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """``send_error`` with the status and code of ``error``: auth (401), rate limit (429),
    body limit (413), overload (503), timeout (504)."""
    await send_error(send, error.status, error.code, error.message, headers)


def _normalise_error(status: int, body: bytes) -> tuple[int, bytes]:
    """Rewrite a non-contract error body; keep ours untouched."""
    try:
        payload = json.loads(body) if body else None
    except ValueError:
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        return status, body
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        payload = payload[0]  # BentoML wraps BentoMLException details in a 1-tuple
    if status == 400 and isinstance(payload, dict) and "detail" in payload:
        details = payload.get("detail") or []
        if any(isinstance(d, dict) and d.get("type") == "json_invalid" for d in details):
            return 400, error_body("malformed_json", "request body is not valid JSON")
        fields = [
            {"field": echo(".".join(str(p) for p in d.get("loc", []))), "problem": _problem(d)}
            for d in details
            if isinstance(d, dict)
        ]
        return 422, error_body("invalid_request", _schema_message(details), fields=fields)
    if status >= 500:
        return status, error_body(_STATUS_CODES.get(status, "internal_error"), "internal error")
    message = payload.get("error") if isinstance(payload, dict) else None
    # BentoML's messages can quote the request (a validation error repeats the value): bounded.
    text = echo(message if isinstance(message, str) else body.decode("utf-8", "replace"), 200)
    text = text.strip()
    return status, error_body(_STATUS_CODES.get(status, "error"), text or "request failed")


UNKNOWN_FIELD = "extra_forbidden"  # pydantic's type for a field the model does not have
NAMED_UNKNOWN = 5  # a message names this many unknown fields; ``fields`` lists them all


def _problem(detail: dict[str, Any]) -> Any:
    return "unknown field" if detail.get("type") == UNKNOWN_FIELD else detail.get("msg")


def _schema_message(details: list[Any]) -> str:
    """A typo is named, as Stripe names an unknown parameter: ``unknown field 'subjet'``
    (facereid.web.strict_inputs makes every route refuse one); else the generic message."""
    unknown = [
        echo(".".join(str(p) for p in d.get("loc", [])))
        for d in details
        if isinstance(d, dict) and d.get("type") == UNKNOWN_FIELD
    ]
    if not unknown:
        return "request does not match the schema"
    named = ", ".join(f"'{name}'" for name in unknown[:NAMED_UNKNOWN])
    more = f" and {len(unknown) - NAMED_UNKNOWN} more" if len(unknown) > NAMED_UNKNOWN else ""
    return f"unknown field{'s' if len(unknown) > 1 else ''} {named}{more}"


JSONHandler = Callable[[], Awaitable[tuple[int, dict[str, Any]]]]


class ContractMiddleware:
    """Request id, access log line, secure headers and the error contract. The outermost
    middleware, so every answer (ours, BentoML's, the protection chain's) passes through it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _header(scope, b"x-request-id") or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        scope["state"]["route"] = route_template(scope)
        started = time.perf_counter()
        held: dict[str, Any] = {}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                held["status"] = message["status"]
                held["headers"] = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"server"
                ]
                if message["status"] < 400:
                    await send(_with_headers(message, held["headers"], request_id))
                return
            if message["type"] == "http.response.body" and held.get("status", 200) >= 400:
                held["body"] = held.get("body", b"") + message.get("body", b"")
                if message.get("more_body"):
                    return
                status, body = _normalise_error(held["status"], held["body"])
                held["status"] = status
                headers = [
                    (k, v)
                    for k, v in held["headers"]
                    if k.lower() not in (b"content-length", b"content-type")
                ]
                headers += [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ]
                start = {"type": "http.response.start", "status": status, "headers": headers}
                await send(_with_headers(start, headers, request_id))
                await send({"type": "http.response.body", "body": body})
                held["error_body"] = body
                return
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            _log_access(scope, request_id, held, time.perf_counter() - started)


def _with_headers(message: Message, headers: list[tuple[bytes, bytes]], rid: str) -> Message:
    present = {k.lower() for k, _ in headers}
    extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
    return {**message, "headers": headers + extra + [(b"x-request-id", rid.encode())]}


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            text = value.decode("latin-1")[:64]
            return text if text.replace("-", "").isalnum() else None
    return None


def route_template(scope: Scope) -> str:
    """The route a request is for, as a template from a small, fixed set: the starlette route
    it matches (BentoML's app is a Starlette app, ``scope["app"]``), else ``unmatched``.
    Handlers of the mounted GET routes (``chain.get_routes_app``) record their own path."""
    from starlette.routing import Match

    for route in getattr(scope.get("app"), "routes", None) or []:
        try:
            match, _ = route.matches(scope)
        except Exception:  # a route that cannot judge this scope does not match it
            continue
        if match != Match.NONE:
            return str(getattr(route, "path", "") or "/")
    return UNMATCHED_ROUTE


def _log_access(scope: Scope, rid: str, held: dict[str, Any], seconds: float) -> None:
    from facereid.ops import metrics  # lazy: see facereid.ops.metrics

    status = held.get("status", 0)
    route = str(scope.get("state", {}).get("route") or UNMATCHED_ROUTE)
    metrics.observe_request(route, str(scope.get("method")), int(status), seconds)
    fields: dict[str, Any] = {
        "request_id": rid,
        "method": str(scope.get("method"))[:16],
        "route": route,
        "path": echo(scope.get("path", ""), 200),
        "status": status,
        "duration_ms": round(seconds * 1000, 2),
    }
    if "error_body" in held:
        try:
            fields["error_code"] = json.loads(held["error_body"])["error"]["code"]
        except (ValueError, KeyError, TypeError):
            pass
        else:
            metrics.count_rejection(str(fields["error_code"]))
    level = logging.WARNING if status >= 400 else logging.INFO
    logger.log(
        level,
        "request %s",
        " ".join(f"{key}={value}" for key, value in fields.items()),
        extra={"request": fields},
    )


def json_endpoint(handler: JSONHandler) -> ASGIApp:
    """A mounted ASGI app answering GET/HEAD with the handler's JSON."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope.get("method") not in ("GET", "HEAD"):
            status, body = 405, error_body("method_not_allowed", "use GET")
        else:
            status, payload = await handler()
            body = json.dumps(payload).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {"type": "http.response.body", "body": body if scope["method"] != "HEAD" else b""}
        )

    return app
