"""Rate limiting with the ``limits`` library, as pure ASGI middlewares.

``RateLimitMiddleware``: the client is the validated API key when authentication is on
(``scope["state"]["api_key_id"]``, set by ``facereid.web.auth``) and otherwise the client
address (``facereid.web.clients``: validated IPs, IPv6 by /64). A key that was not validated is
never used as the identity: inventing keys would otherwise mint fresh budgets.

``FailedAuthLimitMiddleware`` sits outside the key check and budgets 401s per client address:
once an address has spent ``FAILED_AUTH_LIMIT``, its failed attempts get 429 instead of 401,
while requests with a valid key from the same address still pass.

Storage is in memory (one budget per process) unless ``RATE_LIMIT_STORAGE_URI`` names a shared
store such as ``redis://host:6379/0``; calls to it are bounded (``facereid.web.limit_store``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.util import WindowStats

from facereid.errors import RateLimitedError
from facereid.web.clients import client_address, parse_networks
from facereid.web.contract import ASGIApp, Message, Receive, Scope, Send, send_json_error
from facereid.web.limit_store import BoundedLimiter


@dataclass(frozen=True)
class Quota:
    item: RateLimitItem
    scope_name: str  # "*" for the global limit, the path for an override


def _reset_s(stats: WindowStats) -> int:
    return max(0, math.ceil(stats.reset_time - time.time()))


class RateLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        limiter: BoundedLimiter,
        default: str = "",
        per_path: Mapping[str, str] | None = None,
        exempt_paths: Iterable[str] = (),
        trusted_proxies: str = "",
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.default = parse(default) if default else None
        self.per_path = {path: parse(limit) for path, limit in (per_path or {}).items()}
        self.exempt_paths = frozenset(exempt_paths)
        self.trusted = parse_networks(trusted_proxies)

    def quota(self, path: str) -> Quota | None:
        if path in self.exempt_paths:
            return None
        if path in self.per_path:
            return Quota(self.per_path[path], path)
        return Quota(self.default, "*") if self.default else None

    def identity(self, scope: Scope) -> str:
        key_id = scope.get("state", {}).get("api_key_id")
        return f"key:{key_id}" if key_id else f"addr:{client_address(scope, self.trusted)}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        quota = None if scope["type"] != "http" else self.quota(scope.get("path", ""))
        if quota is None or scope.get("method") == "OPTIONS":
            await self.app(scope, receive, send)
            return
        outcome = await self.limiter.hit(quota.item, self.identity(scope), quota.scope_name)
        if outcome is None:  # store unavailable: fail open (logged by the limiter)
            await self.app(scope, receive, send)
            return
        allowed, stats = outcome
        reset_s = _reset_s(stats)
        headers = [
            (b"ratelimit-limit", str(quota.item.amount).encode()),
            (b"ratelimit-remaining", str(max(0, stats.remaining)).encode()),
            (b"ratelimit-reset", str(reset_s).encode()),
        ]
        if not allowed:
            message = f"rate limit of {quota.item} exceeded; retry in {max(1, reset_s)} s"
            await send_limited(send, message, headers, max(1, reset_s))
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class FailedAuthLimitMiddleware:
    """429 in place of a 401 for an address that has had ``limit`` 401 answers in the window.

    Only failed attempts are budgeted: once an address is over its budget, a request that
    presents a valid key still passes (an attacker who floods from a shared address, or from
    behind a proxy without ``TRUSTED_PROXIES``, must not lock every real client out); one
    that would be refused with 401 gets 429 instead, and is not counted again. The key is
    compared in constant time against the digests either way; keys are long random strings, so
    answering a valid key while locked gives a guesser nothing a 401 would not.
    """

    def __init__(
        self,
        app: ASGIApp,
        limiter: BoundedLimiter,
        limit: str,
        trusted_proxies: str = "",
        exempt_paths: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.item = parse(limit)
        self.trusted = parse_networks(trusted_proxies)
        self.exempt_paths = frozenset(exempt_paths)  # probes: a lockout must not fail them

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") == "OPTIONS"
            or scope.get("path", "") in self.exempt_paths
        ):
            await self.app(scope, receive, send)
            return
        who = f"auth-fail:{client_address(scope, self.trusted)}"
        stats = await self.limiter.test(self.item, who)
        locked = stats is not None and stats.remaining <= 0
        state = {"refused": False}

        async def budget_send(message: Message) -> None:
            if state["refused"]:  # the 401's body: replaced by the 429 already sent
                return
            if message["type"] == "http.response.start" and message["status"] == 401:
                if locked and stats is not None:
                    state["refused"] = True
                    retry = max(1, _reset_s(stats))
                    text = f"too many failed authentications from this address; retry in {retry} s"
                    await send_limited(send, text, [], retry)
                    return
                await self.limiter.hit(self.item, who)
            await send(message)

        await self.app(scope, receive, budget_send)


async def send_limited(
    send: Send, message: str, headers: list[tuple[bytes, bytes]], retry_after: int
) -> None:
    retry = [(b"retry-after", str(retry_after).encode())]
    await send_json_error(send, RateLimitedError(message), [*retry, *headers])
