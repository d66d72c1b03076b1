"""Request size limit, enforced while the body streams in.

A ``Content-Length`` over the limit is refused before a byte is read. A body without one
(chunked) is counted as it arrives; the chunk that crosses the limit ends the request with 413
and nothing more is read, so an oversized upload never sits in memory.
"""

from __future__ import annotations

from facereid.errors import PayloadTooLargeError
from facereid.web.contract import ASGIApp, Message, Receive, Scope, Send, send_json_error


class BodyTooLarge(Exception):
    """Raised inside ``receive`` when the streamed body crosses the limit."""


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.max_bytes <= 0:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._reject(send)
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
                if received > self.max_bytes:
                    state["too_large"] = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # An app that catches BodyTooLarge answers 400/500: answer 413 in its place.
            if state["too_large"]:
                if message["type"] == "http.response.start" and not state["started"]:
                    state["started"] = True
                    await self._reject(send)
                return
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            if not state["started"]:
                state["started"] = True
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        error = PayloadTooLargeError(f"request body is over the limit of {self.max_bytes} bytes")
        # "connection: close": the rest of the body is never read.
        await send_json_error(send, error, [(b"connection", b"close")])


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
