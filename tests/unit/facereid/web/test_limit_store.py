"""The rate-limit store: bounded calls and a circuit breaker; fail open while it is down."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest
from limits import parse
from starlette.testclient import TestClient

from facereid.web.limit_store import BoundedLimiter, CircuitBreaker
from tests.unit.facereid.protected_app import protected_app


@pytest.fixture
def silent_redis() -> Iterator[str]:
    """A port that accepts connections and never answers: a hung Redis."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    server.close()


def test_breaker_opens_after_consecutive_failures_and_retries_after_the_pause() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failures=3, reset_s=30, clock=lambda: now[0])
    breaker.failure()
    breaker.success()  # a success in between resets the count
    breaker.failure()
    breaker.failure()
    assert breaker.allows()
    breaker.failure()
    assert not breaker.allows()
    now[0] = 31.0
    assert breaker.allows()  # half-open: one call may try
    breaker.failure()  # and one more failure opens it again at once
    assert not breaker.allows()


def test_a_hung_store_is_bounded_then_skipped(silent_redis: str) -> None:
    """Before: a Redis that never answers added its 5 s socket timeout to every request."""
    limiter = BoundedLimiter(
        silent_redis, timeout_s=0.2, breaker=CircuitBreaker(failures=2, reset_s=60)
    )
    item = parse("5/minute")

    async def scenario() -> list[object]:
        results: list[object] = [await limiter.hit(item, "who"), await limiter.hit(item, "who")]
        assert not limiter.breaker.allows()

        async def never(*_: object) -> bool:
            raise AssertionError("an open breaker must not call the store")

        limiter.limiter.hit = never  # type: ignore[method-assign, assignment]
        results.append(await limiter.hit(item, "who"))
        results.append(await limiter.test(item, "who"))
        return results

    assert asyncio.run(scenario()) == [None, None, None, None]


def test_requests_are_served_while_the_store_hangs(
    silent_redis: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = protected_app(
        rate_limit="1/minute", rate_limit_storage_uri=silent_redis, rate_limit_store_timeout_s=0.1
    )
    with caplog.at_level("ERROR", logger="facereid.web.limit_store"):
        statuses = [TestClient(app).post("/compare").status_code for _ in range(4)]
    assert statuses == [200] * 4  # fail open: over "1/minute", yet served
    assert "rate limit store unavailable" in caplog.text
    assert "skipped for" in caplog.text  # the breaker opened
