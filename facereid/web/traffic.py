"""In-process traffic limits that answer in the contract's shape.

They replace BentoML's ``traffic.max_concurrency`` and stand inside its ``traffic.timeout``:
BentoML's own middlewares sit outside every middleware a service adds, so their 429/504
bodies (``{"error": "Too many requests"}``) could not be put into ``{"error": {"code",
"message"}}``, and its concurrency limit counted unauthenticated requests before our key check.
``service.py`` sets BentoML's timeout ``REQUEST_TIMEOUT_S`` + 10 s, a backstop that ours beats.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from facereid.errors import ModelOverloadedError, ModelTimeoutError
from facereid.web.contract import ASGIApp, Message, Receive, Scope, Send, send_error

PROBES = frozenset({"/livez", "/readyz", "/healthz", "/health", "/metrics"})


class ConcurrencyLimitMiddleware:
    """503 ``overloaded`` (``Retry-After: 1``) while ``limit`` requests are in flight; probes
    are never counted, so a busy pod is not restarted for being busy."""

    def __init__(self, app: ASGIApp, limit: int, skip_paths: Iterable[str] = PROBES) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0
        self.skip_paths = frozenset(skip_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "") in self.skip_paths:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            message = f"more than {self.limit} requests in flight; retry later"
            await send_error(
                send, 503, ModelOverloadedError.code, message, [(b"retry-after", b"1")]
            )
            return
        self.in_flight += 1  # one event loop: no lock needed between the check and this
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


class RequestTimeoutMiddleware:
    """504 ``timeout`` for a request that has not started its answer after ``timeout_s``; the
    work is cancelled. An answer already streaming is left to finish."""

    def __init__(
        self, app: ASGIApp, timeout_s: float, skip_paths: Iterable[str] = frozenset()
    ) -> None:
        self.app = app
        self.timeout_s = timeout_s
        self.skip_paths = frozenset(skip_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "") in self.skip_paths:
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, tracking_send))
        try:
            done, _ = await asyncio.wait({task}, timeout=self.timeout_s)
            if task in done or started:
                await task
                return
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        finally:
            if not task.done():  # we were cancelled ourselves
                task.cancel()
        message = f"the request did not finish within {self.timeout_s:g} s"
        await send_error(send, ModelTimeoutError.status, ModelTimeoutError.code, message)
