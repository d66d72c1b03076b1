"""Rate limiting: budgets per key or address, per-path overrides, headers, a shared Redis store."""

from __future__ import annotations

import ipaddress

import pytest
from starlette.testclient import TestClient

from facereid.web.clients import client_address, parse_networks
from tests.redis_helper import redis_server
from tests.unit.facereid.protected_app import protected_app


def test_request_over_the_limit_gets_429_with_retry_after_and_ratelimit_headers() -> None:
    client = TestClient(protected_app(rate_limit="3/minute"))
    for remaining in (2, 1, 0):
        ok = client.post("/compare")
        assert ok.status_code == 200
        assert ok.headers["ratelimit-limit"] == "3"
        assert ok.headers["ratelimit-remaining"] == str(remaining)
        assert 0 < int(ok.headers["ratelimit-reset"]) <= 60
    limited = client.post("/compare")
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.headers["ratelimit-limit"] == "3"
    assert limited.headers["ratelimit-remaining"] == "0"
    assert "ratelimit-reset" in limited.headers
    # ContractMiddleware wraps the limiter: security headers and request id on the 429 too
    assert limited.headers["x-content-type-options"] == "nosniff"
    assert limited.headers["x-frame-options"] == "DENY"
    assert limited.headers["x-request-id"]


def test_two_api_keys_have_separate_budgets() -> None:
    client = TestClient(protected_app(rate_limit="2/minute", api_keys="key-a,key-b"))
    for _ in range(2):
        assert client.post("/compare", headers={"x-api-key": "key-a"}).status_code == 200
    assert client.post("/compare", headers={"x-api-key": "key-a"}).status_code == 429
    assert client.post("/compare", headers={"authorization": "Bearer key-b"}).status_code == 200


def test_unvalidated_keys_do_not_mint_fresh_budgets() -> None:
    """Without authentication a presented key is just text: the address is the identity."""
    client = TestClient(protected_app(rate_limit="2/minute"))
    assert client.post("/compare", headers={"x-api-key": "one"}).status_code == 200
    assert client.post("/compare", headers={"x-api-key": "two"}).status_code == 200
    assert client.post("/compare", headers={"x-api-key": "three"}).status_code == 429


def test_per_path_override_and_exempt_probes() -> None:
    client = TestClient(
        protected_app(rate_limit="100/minute", rate_limits={"/analyze": "1/minute"})
    )
    assert client.post("/analyze", content=b"{}").status_code == 200
    assert client.post("/analyze", content=b"{}").status_code == 429
    assert client.post("/compare").status_code == 200  # the global budget is separate
    for _ in range(5):
        health = client.get("/health")
        assert health.status_code == 200
        assert "ratelimit-limit" not in health.headers
        assert client.get("/livez").status_code == 200


def test_no_limit_configured_means_no_headers() -> None:
    response = TestClient(protected_app()).post("/compare")
    assert response.status_code == 200
    assert "ratelimit-limit" not in response.headers


def _scope(peer: str, forwarded: str | None) -> dict[str, object]:
    headers = [] if forwarded is None else [(b"x-forwarded-for", forwarded.encode())]
    return {"type": "http", "client": (peer, 1234), "headers": headers}


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    trusted = parse_networks("10.0.0.0/8, 127.0.0.1")
    assert trusted[0] == ipaddress.ip_network("10.0.0.0/8")
    # untrusted peer: its X-Forwarded-For is ignored
    assert client_address(_scope("203.0.113.9", "1.2.3.4"), trusted) == "203.0.113.9"
    # trusted peer: the right-most untrusted hop; a client-forged left part is ignored
    forged = "6.6.6.6, 198.51.100.7, 10.1.2.3"
    assert client_address(_scope("127.0.0.1", forged), trusted) == "198.51.100.7"
    # no trusted proxies configured: never believed
    assert client_address(_scope("127.0.0.1", "1.2.3.4"), []) == "127.0.0.1"


def test_forwarded_clients_behind_a_trusted_proxy_get_separate_budgets() -> None:
    # starlette's TestClient connects as "testclient", which is not an IP: trust nothing
    app = protected_app(rate_limit="1/minute", trusted_proxies="127.0.0.1")
    client = TestClient(app, client=("127.0.0.1", 5000))
    assert client.post("/compare", headers={"x-forwarded-for": "1.1.1.1"}).status_code == 200
    assert client.post("/compare", headers={"x-forwarded-for": "1.1.1.1"}).status_code == 429
    assert client.post("/compare", headers={"x-forwarded-for": "2.2.2.2"}).status_code == 200


def test_replicas_with_one_redis_store_share_one_budget() -> None:
    """Two independent app instances (as two replicas would be), each with its own limiter and
    Redis connection, draw from one budget; an in-memory pair would not."""
    with redis_server() as uri:
        settings = {"rate_limit": "4/minute", "rate_limit_storage_uri": uri}
        with (
            TestClient(protected_app(**settings)) as first,
            TestClient(protected_app(**settings)) as second,
        ):
            statuses = [(first if i % 2 else second).post("/compare").status_code for i in range(4)]
            assert statuses == [200] * 4
            assert first.post("/compare").status_code == 429
            assert second.post("/compare").status_code == 429
            assert second.post("/compare").headers["ratelimit-remaining"] == "0"

    memory = [TestClient(protected_app(rate_limit="1/minute")) for _ in range(2)]
    assert [c.post("/compare").status_code for c in memory] == [200, 200]


def test_an_unreachable_store_fails_open(caplog: pytest.LogCaptureFixture) -> None:
    """Redis down: serve (and say so in the log) rather than refuse every client."""
    from tests.redis_helper import _free_port

    uri = f"redis://127.0.0.1:{_free_port()}/0"  # nothing listens there
    with caplog.at_level("ERROR", logger="facereid.web.limit_store"):
        response = TestClient(
            protected_app(rate_limit="1/minute", rate_limit_storage_uri=uri)
        ).post("/compare")
    assert response.status_code == 200
    assert "rate limit store unavailable" in caplog.text


def _proxied(app: object) -> TestClient:
    return TestClient(app, client=("127.0.0.1", 5000))  # type: ignore[arg-type]


def test_failed_authentications_are_budgeted_per_address() -> None:
    """Before: 401s were never limited, so keys could be guessed at line speed."""
    app = protected_app(api_keys="right", failed_auth_limit="3/minute", trusted_proxies="127.0.0.1")
    client = _proxied(app)
    attacker = {"x-forwarded-for": "203.0.113.5"}
    statuses = [
        client.post("/compare", headers={**attacker, "x-api-key": f"guess-{n}"}).status_code
        for n in range(5)
    ]
    assert statuses == [401, 401, 401, 429, 429]
    locked = client.post("/compare", headers={**attacker, "x-api-key": "guess-again"})
    assert locked.status_code == 429  # failed attempts from this address: 429, not 401
    assert client.get("/health", headers=attacker).status_code == 200  # probes stay open
    assert locked.json()["error"]["code"] == "rate_limited"
    assert int(locked.headers["retry-after"]) >= 1
    assert "www-authenticate" not in locked.headers  # the 401 was replaced, not appended to
    # issue 21: a valid key is never refused by the failed-login budget, even from the
    # locked address (a shared NAT or a proxy without TRUSTED_PROXIES is one address)
    for _ in range(3):
        valid = client.post("/compare", headers={**attacker, "x-api-key": "right"})
        assert valid.status_code == 200
    no_key = client.post("/compare", headers=attacker)
    assert no_key.status_code == 429
    other = client.post(
        "/compare", headers={"x-forwarded-for": "203.0.113.6", "x-api-key": "right"}
    )
    assert other.status_code == 200
    # successes never spend the failure budget
    for _ in range(5):
        ok = client.post(
            "/compare", headers={"x-forwarded-for": "198.51.100.1", "x-api-key": "right"}
        )
        assert ok.status_code == 200


def test_forged_forwarded_entries_and_ipv6_hosts_share_budgets() -> None:
    client = _proxied(protected_app(rate_limit="2/minute", trusted_proxies="127.0.0.1"))
    garbage = [
        client.post("/compare", headers={"x-forwarded-for": f"garbage-{n}"}).status_code
        for n in range(3)
    ]
    assert garbage == [200, 200, 429]  # one budget, not one per invented entry
    v6 = [
        client.post("/compare", headers={"x-forwarded-for": f"2001:db8:5:5::{n}"}).status_code
        for n in range(1, 4)
    ]
    assert v6 == [200, 200, 429]
    assert (
        client.post("/compare", headers={"x-forwarded-for": "2001:db8:5:6::1"}).status_code == 200
    )
