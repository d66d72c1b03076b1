"""Request size limit: refused from Content-Length, or mid-stream without reading the rest."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
from starlette.testclient import TestClient

from facereid.config import Settings
from facereid.web.body_limit import BodyLimitMiddleware, route_body_limits
from facereid.web.contract import ContractMiddleware
from tests.unit.facereid.protected_app import inner_app, protected_app


def test_declared_content_length_over_the_limit_is_413_at_once() -> None:
    client = TestClient(protected_app(max_request_bytes=100))
    response = client.post("/analyze", content=b"x" * 101)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert response.headers["x-frame-options"] == "DENY"
    assert client.post("/analyze", content=b"x" * 100).json() == {"received": 100}


def test_default_fits_a_4096_square_rgb_image_in_base64_json() -> None:
    from facereid.config import Settings

    worst_case_raw = 4096 * 4096 * 3  # uncompressible 8-bit RGB, e.g. a noisy PNG
    assert Settings().max_request_bytes > worst_case_raw * 4 / 3 + 1024


def _run(
    app: Any, chunks: list[bytes], headers: list[tuple[bytes, bytes]], path: str = "/analyze"
) -> dict[str, Any]:
    """Drive a raw ASGI call whose receive() counts the chunks the app consumed."""
    consumed = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal consumed
        index = consumed
        consumed += 1
        if index >= len(chunks):
            return {"type": "http.disconnect"}
        return {
            "type": "http.request",
            "body": chunks[index],
            "more_body": index < len(chunks) - 1,
        }

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 3000),
        "scheme": "http",
        "http_version": "1.1",
        "root_path": "",
    }
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return {"status": start["status"], "body": body, "consumed": consumed}


def test_chunked_body_crossing_the_limit_stops_reading_and_answers_413() -> None:
    app = ContractMiddleware(BodyLimitMiddleware(inner_app(), max_bytes=1000))
    chunks = [b"a" * 400] * 100  # 40 kB announced by nothing: a chunked upload
    result = _run(app, chunks, headers=[(b"transfer-encoding", b"chunked")])
    assert result["status"] == 413
    assert json.loads(result["body"])["error"]["code"] == "payload_too_large"
    assert result["consumed"] == 3  # 400, 800, 1200 > 1000: the third chunk ends it


def test_chunked_body_under_the_limit_is_passed_through() -> None:
    app = BodyLimitMiddleware(inner_app(), max_bytes=1000)
    result = _run(app, [b"a" * 300] * 3, headers=[])
    assert result["status"] == 200
    assert json.loads(result["body"]) == {"received": 900}


def test_app_that_swallows_the_error_still_answers_413() -> None:
    async def stubborn(scope: Any, receive: Any, send: Any) -> None:
        try:
            while (await receive()).get("more_body"):
                pass
        except Exception:
            await send({"type": "http.response.start", "status": 500, "headers": []})
            await send({"type": "http.response.body", "body": b"boom"})

    result = _run(BodyLimitMiddleware(stubborn, max_bytes=10), [b"x" * 8] * 5, headers=[])
    assert result["status"] == 413
    assert result["consumed"] == 2


# --- per-route caps (issue 12) -----------------------------------------------------------


def _worst_case_compare_body(dim: int) -> bytes:
    """Two embeddings of ``dim`` float32 values at their longest JSON spelling."""
    rng = np.random.default_rng(0)
    values = -rng.uniform(1, 9, dim).astype(np.float32) * np.float32(1e-38)
    longest = [float(v) for v in values]
    body = {
        "face1_embedding": longest,
        "face2_embedding": longest,
        "face1_model": "m" * 200,
        "face2_model": "m" * 200,
    }
    return json.dumps(body, indent=1).encode()


def test_compare_cap_fits_two_longest_embeddings_and_refuses_48_mb() -> None:
    settings = Settings()
    cap = route_body_limits(settings)["/compare"]
    assert len(_worst_case_compare_body(settings.max_embedding_dim)) <= cap
    assert cap < 1024 * 1024  # small: JSON parsing on the event loop stays short
    client = TestClient(protected_app())
    response = client.post("/compare", content=b"0" * (48 * 1024 * 1024))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert f"limit of {cap} bytes" in response.json()["error"]["message"]
    # The same size is still within the global cap on an image route.
    assert client.post("/analyze", content=b"0" * (cap + 1)).status_code == 200


def test_compare_cap_follows_max_embedding_dim() -> None:
    small = route_body_limits(Settings(max_embedding_dim=128))["/compare"]
    large = route_body_limits(Settings(max_embedding_dim=8192))["/compare"]
    assert small < large and len(_worst_case_compare_body(8192)) <= large


def test_route_override_and_trailing_slash() -> None:
    client = TestClient(protected_app(route_max_bytes={"/analyze": 50}))
    assert client.post("/analyze", content=b"x" * 51).status_code == 413
    assert client.post("/analyze", content=b"x" * 50).status_code == 200
    app = BodyLimitMiddleware(inner_app(), max_bytes=10_000, per_path={"/compare": 10})
    assert app.limit_for("/compare/") == 10 and app.limit_for("/other") == 10_000


def test_chunked_body_on_a_small_route_is_cut_at_its_cap() -> None:
    app = BodyLimitMiddleware(inner_app(), max_bytes=10**9, per_path={"/analyze": 1000})
    result = _run(app, [b"a" * 400] * 100, headers=[], path="/analyze")
    assert result["status"] == 413 and result["consumed"] == 3


def test_video_id_routes_get_the_small_cap() -> None:
    limits = route_body_limits(Settings())
    for path in ("/video/status", "/video/result", "/video/cancel"):
        assert limits[path] == 64 * 1024
    assert "/analyze" not in limits and "/find_matches" not in limits  # the global cap
