"""Rate limiting with the ``limits`` library, as a pure ASGI middleware.

The client is the validated API key when authentication is on (``scope["state"]["api_key_id"]``,
set by ``facereid.web.auth``) and otherwise the client address. A key that was not validated is
never used as the identity: inventing keys would otherwise mint fresh budgets. The address is
the socket peer, or the right-most untrusted ``X-Forwarded-For`` hop when the peer is one of
``TRUSTED_PROXIES``.

Storage is in memory (one budget per process) unless ``RATE_LIMIT_STORAGE_URI`` names a shared
store such as ``redis://host:6379/0``, which every replica then draws from.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio import strategies
from limits.aio.storage import Storage
from limits.storage import storage_from_string

from facereid.errors import RateLimitedError
from facereid.web.contract import ASGIApp, Message, Receive, Scope, Send, send_json_error

logger = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

STRATEGIES: dict[str, type[strategies.RateLimiter]] = {
    "moving-window": strategies.MovingWindowRateLimiter,
    "fixed-window": strategies.FixedWindowRateLimiter,
    "sliding-window-counter": strategies.SlidingWindowCounterRateLimiter,
}


def make_storage(uri: str) -> Storage:
    """``memory://`` or ``redis://...`` as given by an operator, as limits' async storage."""
    scheme = uri if uri.startswith("async+") else f"async+{uri}"
    options = {"implementation": "redispy"} if scheme.startswith("async+redis") else {}
    storage = storage_from_string(scheme, **options)
    if not isinstance(storage, Storage):
        raise ValueError(f"RATE_LIMIT_STORAGE_URI {uri!r} has no asyncio storage")
    return storage


def parse_networks(text: str) -> list[Network]:
    return [
        ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()
    ]


def client_address(scope: Scope, trusted: list[Network]) -> str:
    peer = (scope.get("client") or ("unknown", 0))[0]
    if not trusted or not _is_trusted(peer, trusted):
        return str(peer)
    hops: list[str] = []
    for name, value in scope.get("headers", []):
        if name.lower() == b"x-forwarded-for":
            hops += [h.strip() for h in value.decode("latin-1").split(",") if h.strip()]
    # Right to left: each trusted proxy appended the address it saw; the first untrusted one
    # is the client as far as we can know (anything further left is client-supplied).
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop
    return hops[0] if hops else str(peer)


def _is_trusted(address: str, trusted: list[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


@dataclass(frozen=True)
class Quota:
    item: RateLimitItem
    scope_name: str  # "*" for the global limit, the path for an override


class RateLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        default: str = "",
        per_path: Mapping[str, str] | None = None,
        storage_uri: str = "memory://",
        strategy: str = "moving-window",
        exempt_paths: Iterable[str] = (),
        trusted_proxies: str = "",
    ) -> None:
        self.app = app
        self.default = parse(default) if default else None
        self.per_path = {path: parse(limit) for path, limit in (per_path or {}).items()}
        self.storage = make_storage(storage_uri)
        self.limiter = STRATEGIES[strategy](self.storage)
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
        who = self.identity(scope)
        try:
            allowed = await self.limiter.hit(quota.item, who, quota.scope_name)
            stats = await self.limiter.get_window_stats(quota.item, who, quota.scope_name)
        except Exception as exc:  # the store is down: serve rather than refuse everyone
            logger.error("rate limit store unavailable, not limiting: %s", type(exc).__name__)
            await self.app(scope, receive, send)
            return
        reset_s = max(0, math.ceil(stats.reset_time - time.time()))
        headers = [
            (b"ratelimit-limit", str(quota.item.amount).encode()),
            (b"ratelimit-remaining", str(max(0, stats.remaining)).encode()),
            (b"ratelimit-reset", str(reset_s).encode()),
        ]
        if not allowed:
            await _send_limited(send, quota.item, headers, max(1, reset_s))
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _send_limited(
    send: Send, item: RateLimitItem, headers: list[tuple[bytes, bytes]], retry_after: int
) -> None:
    error = RateLimitedError(f"rate limit of {item} exceeded; retry in {retry_after} s")
    await send_json_error(send, error, [(b"retry-after", str(retry_after).encode()), *headers])
