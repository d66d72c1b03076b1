"""CORS and HSTS: both off by default, on when configured, present on errors too."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.unit.facereid.protected_app import protected_app


def test_off_by_default() -> None:
    response = TestClient(protected_app()).post(
        "/compare", headers={"origin": "https://app.example"}
    )
    assert "access-control-allow-origin" not in response.headers
    assert "strict-transport-security" not in response.headers


def test_cors_preflight_and_simple_request_including_errors() -> None:
    client = TestClient(
        protected_app(cors_allow_origins="https://app.example", api_keys="k", rate_limit="5/minute")
    )
    preflight = client.options(
        "/compare",
        headers={
            "origin": "https://app.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "x-api-key",
        },
    )
    assert preflight.status_code == 200  # answered before authentication
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    denied = client.post("/compare", headers={"origin": "https://app.example"})
    assert denied.status_code == 401
    assert denied.headers["access-control-allow-origin"] == "https://app.example"
    ok = client.post("/compare", headers={"origin": "https://app.example", "x-api-key": "k"})
    assert "ratelimit-remaining" in ok.headers["access-control-expose-headers"].lower()
    other = client.post("/compare", headers={"origin": "https://evil.example", "x-api-key": "k"})
    assert "access-control-allow-origin" not in other.headers


def test_hsts_only_behind_tls() -> None:
    client = TestClient(protected_app(behind_tls=True, hsts_max_age_s=600))
    for response in (client.post("/compare"), client.get("/missing")):
        assert response.headers["strict-transport-security"].startswith("max-age=600")
