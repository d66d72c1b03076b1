"""Request size limits, per route, enforced while the body streams in.

A ``Content-Length`` over the limit is refused before a byte is read. A body without one
(chunked) is counted as it arrives; the chunk that crosses the limit ends the request with 413
and nothing more is read, so an oversized upload never sits in memory.

Why per route: BentoML parses a JSON body on the event loop, so a large body stalls every
other request (a 48 MB ``/compare`` froze ``/livez`` for 1.24 s). Routes whose inputs are
small by nature (two embeddings, a job id) get caps sized from those inputs; so does every
gallery route (issue 21: a 32 MB ``/gallery/enroll_batch`` of 124,031 rows, far past its
1,000-row limit, was parsed for 1.8 s before its 422). Only the routes that take an image
(``/analyze*``, ``/gallery/enroll``, ``/gallery/search``, ``/video/submit``) keep the global
``MAX_REQUEST_BYTES``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from facereid.config import Settings
from facereid.errors import PayloadTooLargeError
from facereid.gallery.requests import MAX_PAGE
from facereid.web.contract import ASGIApp, Message, Receive, Scope, Send, send_json_error

# The longest JSON spelling of one float32 value with its separator, e.g.
# "-1.1754943508222875e-38, " (25 chars), rounded up for odd spacing.
JSON_FLOAT_BYTES = 32
# Field names, model tags and whitespace around the vectors.
ENVELOPE_BYTES = 16 * 1024
# Routes whose only input is a short id.
SMALL_JSON_BYTES = 64 * 1024
SMALL_JSON_ROUTES = (
    "/video/status",
    "/video/result",
    "/video/cancel",
    "/gallery/subjects",  # a gallery, a subject, a limit and a cursor of <= 2,048 characters
    "/gallery/faces",
    "/gallery/delete",
    "/gallery/rename",
    "/gallery/drop",
    "/gallery/retention",  # a gallery and a number
    "/gallery/list",
    "/gallery/cluster",
    "/tenant/erase",  # {"confirm": true}
    "/gallery/export",
    "/audit/query",
)
# Routes whose bodies are large by nature (images, a video, many embeddings) keep the global
# MAX_REQUEST_BYTES. Every route is in this list or in ``route_body_limits``: a test checks it,
# so a new route cannot get the global cap by omission.
LARGE_BODY_ROUTES = (
    "/analyze",
    "/analyze_batch",
    "/find_matches",
    "/gallery/enroll",
    "/gallery/search",
    "/video/submit",
)
# /gallery/assign: up to 1,000 face ids (uuids; 128 characters each leaves room for escapes)
ASSIGN_ID_BYTES = 128
# per /gallery/enroll_batch row besides its vector: a subject (256 characters), an image id
# (64) and the metadata object, with room for JSON escapes
ROW_EXTRA_CHARS = 256 + 64


def enroll_batch_bytes(settings: Settings) -> int:
    per_row = (
        settings.gallery_dim * JSON_FLOAT_BYTES
        + 2 * settings.gallery_max_metadata_bytes
        + 6 * ROW_EXTRA_CHARS
    )
    return settings.gallery_max_batch * per_row + ENVELOPE_BYTES


def route_body_limits(settings: Settings) -> dict[str, int]:
    """Per-path body caps: derived defaults, then ``ROUTE_MAX_BYTES`` overrides."""
    compare = 2 * settings.max_embedding_dim * JSON_FLOAT_BYTES + ENVELOPE_BYTES
    limits = {
        "/compare": compare,
        "/gallery/enroll_batch": enroll_batch_bytes(settings),
        "/gallery/assign": MAX_PAGE * ASSIGN_ID_BYTES + ENVELOPE_BYTES,
    }
    limits.update(dict.fromkeys(SMALL_JSON_ROUTES, SMALL_JSON_BYTES))
    limits.update({path: int(size) for path, size in settings.route_max_bytes.items()})
    return limits


def body_limit_options(settings: Settings) -> dict[str, object]:
    """The middleware's options from Settings (for ``facereid.web.chain``)."""
    return {"max_bytes": settings.max_request_bytes, "per_path": route_body_limits(settings)}


# Lingering close: a client that writes its whole body before it reads (Python's urllib, many
# simple clients) sees a connection reset instead of the 413 when the server closes with the
# body unread. So before answering an early 413 the rest of the body is read and dropped, up
# to these bounds; past them the connection is closed as before. A client that sent
# "Expect: 100-continue" has sent no body yet and is answered at once.
LINGER_MAX_BYTES = 64 * 1024 * 1024
LINGER_MAX_S = 5.0


async def drain(receive: Receive, max_bytes: int = LINGER_MAX_BYTES) -> None:
    """Read and drop the request body until it ends or a bound is reached."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LINGER_MAX_S
    seen = 0
    while seen <= max_bytes:
        left = deadline - loop.time()
        if left <= 0:
            return
        try:
            message = await asyncio.wait_for(receive(), left)
        except TimeoutError:
            return
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _expects_continue(scope: Scope) -> bool:
    return any(
        name.lower() == b"expect" and value.lower() == b"100-continue"
        for name, value in scope.get("headers", [])
    )


class BodyTooLarge(Exception):
    """Raised inside ``receive`` when the streamed body crosses the limit."""


class BodyLimitMiddleware:
    def __init__(
        self, app: ASGIApp, max_bytes: int, per_path: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.per_path = {path.rstrip("/") or "/": size for path, size in (per_path or {}).items()}

    def limit_for(self, path: str) -> int:
        """The cap for ``path`` (a trailing slash does not escape it); <= 0: no cap."""
        return self.per_path.get(path.rstrip("/") or "/", self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limit_for(scope.get("path", "")) if scope["type"] == "http" else 0
        if limit <= 0:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            if declared <= LINGER_MAX_BYTES and not _expects_continue(scope):
                await drain(receive)
            await self._reject(send, limit)
            return

        received = 0
        state = {"too_large": False, "started": False}

        async def limited_receive() -> Message:
            nonlocal received
            if state["too_large"]:  # never read past the limit, whatever the app does
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    state["too_large"] = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # An app that catches BodyTooLarge answers 400/500: answer 413 in its place.
            if state["too_large"]:
                if message["type"] == "http.response.start" and not state["started"]:
                    state["started"] = True
                    await self._reject(send, limit)
                return
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            if not state["started"]:
                state["started"] = True
                await drain(receive)  # the rest of a chunked body, within the same bounds
                await self._reject(send, limit)

    async def _reject(self, send: Send, limit: int) -> None:
        error = PayloadTooLargeError(f"request body is over the limit of {limit} bytes")
        # "connection: close": whatever is left of the body is never read.
        await send_json_error(send, error, [(b"connection", b"close")])


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
