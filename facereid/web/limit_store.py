"""The rate-limit store, bounded: every call has a short deadline and a circuit breaker.

A Redis that accepts connections but never answers would otherwise hold every request for the
client's socket timeout (5 s measured). Each call gets ``RATE_LIMIT_STORE_TIMEOUT_S``; after
``RATE_LIMIT_BREAKER_FAILURES`` failures in a row the store is skipped for
``RATE_LIMIT_BREAKER_RESET_S`` and then tried again with one call. While the store is
unavailable requests are served unlimited (fail open, logged): refusing every client because
a counter is unreachable would turn a Redis outage into a full outage.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from limits import RateLimitItem
from limits.aio import strategies
from limits.aio.storage import Storage
from limits.storage import storage_from_string
from limits.util import WindowStats

logger = logging.getLogger(__name__)
T = TypeVar("T")

STRATEGIES: dict[str, type[strategies.RateLimiter]] = {
    "moving-window": strategies.MovingWindowRateLimiter,
    "fixed-window": strategies.FixedWindowRateLimiter,
    "sliding-window-counter": strategies.SlidingWindowCounterRateLimiter,
}


def make_storage(uri: str, timeout_s: float = 0.25) -> Storage:
    """``memory://`` or ``redis://...`` as given by an operator, as limits' async storage."""
    scheme = uri if uri.startswith("async+") else f"async+{uri}"
    options: dict[str, float | str | bool] = {}
    if scheme.startswith(("async+redis", "async+rediss")):
        # The client's own timeouts as well: a cancelled call must not leave a socket waiting.
        options = {
            "implementation": "redispy",
            "socket_timeout": timeout_s,
            "socket_connect_timeout": timeout_s,
        }
    storage = storage_from_string(scheme, **options)
    if not isinstance(storage, Storage):
        raise ValueError(f"RATE_LIMIT_STORAGE_URI {uri!r} has no asyncio storage")
    return storage


class CircuitBreaker:
    """Closed (calls go through) until ``failures`` in a row; then open for ``reset_s``."""

    def __init__(
        self, failures: int, reset_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.failures = max(1, failures)
        self.reset_s = reset_s
        self.clock = clock
        self.consecutive = 0
        self.open_until = 0.0

    def allows(self) -> bool:
        return self.clock() >= self.open_until

    def success(self) -> None:
        self.consecutive = 0

    def failure(self) -> None:
        self.consecutive += 1
        if self.consecutive >= self.failures:
            self.open_until = self.clock() + self.reset_s
            self.consecutive = self.failures - 1  # after the pause, one failure reopens it
            logger.error(
                "rate limit store failing: skipped for %.0f s, requests are not limited",
                self.reset_s,
            )


class BoundedLimiter:
    """A ``limits`` strategy whose calls answer ``None`` when the store is unavailable."""

    def __init__(
        self,
        storage_uri: str,
        strategy: str = "moving-window",
        timeout_s: float = 0.25,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.storage = make_storage(storage_uri, timeout_s)
        self.limiter = STRATEGIES[strategy](self.storage)
        self.timeout_s = timeout_s
        self.breaker = breaker or CircuitBreaker(3, 30.0)

    async def _call(self, make: Callable[[], Awaitable[T]]) -> T | None:
        if not self.breaker.allows():
            return None
        try:
            result = await asyncio.wait_for(make(), timeout=self.timeout_s)
        except Exception as exc:  # down, slow or refusing: serve rather than refuse everyone
            logger.error("rate limit store unavailable, not limiting: %s", type(exc).__name__)
            self.breaker.failure()
            return None
        self.breaker.success()
        return result

    async def hit(self, item: RateLimitItem, *ids: str) -> tuple[bool, WindowStats] | None:
        async def both() -> tuple[bool, WindowStats]:
            allowed = await self.limiter.hit(item, *ids)
            return allowed, await self.limiter.get_window_stats(item, *ids)

        return await self._call(both)

    async def test(self, item: RateLimitItem, *ids: str) -> WindowStats | None:
        """The window's stats without spending from it."""
        return await self._call(lambda: self.limiter.get_window_stats(item, *ids))
