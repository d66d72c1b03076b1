"""In-chain concurrency and time limits answer in the contract's shape (BentoML's did not)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from typing import Any

from starlette.testclient import TestClient

from facereid.web.contract import ContractMiddleware
from facereid.web.traffic import ConcurrencyLimitMiddleware
from tests.unit.facereid.protected_app import inner_app, protected_app


def test_a_request_over_the_time_limit_is_a_contract_504() -> None:
    client = TestClient(protected_app(request_timeout_s=0.2))
    response = client.post("/slow?s=30")
    assert response.status_code == 504
    assert response.json() == {
        "error": {"code": "timeout", "message": "the request did not finish within 0.2 s"}
    }
    assert response.headers["x-request-id"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert client.post("/slow?s=0").json() == {"slept": True}


def test_requests_over_the_concurrency_limit_get_a_contract_503() -> None:
    app = ContractMiddleware(ConcurrencyLimitMiddleware(inner_app(), limit=2))
    sent: list[dict[str, Any]] = []

    async def call(path: str, query: bytes = b"", method: str = "POST") -> None:
        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "query_string": query,
            "headers": [],
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append({"path": path, **message})

        await app(scope, receive, send)

    async def scenario() -> None:
        slow = [asyncio.create_task(call("/slow", b"s=0.3")) for _ in range(2)]
        await asyncio.sleep(0.05)  # both are inside, sleeping
        await call("/compare")
        await call("/livez", method="GET")  # probes are never counted
        await asyncio.gather(*slow)

    asyncio.run(scenario())
    starts = {m["path"]: m for m in sent if m["type"] == "http.response.start"}
    assert starts["/compare"]["status"] == 503
    assert (b"retry-after", b"1") in starts["/compare"]["headers"]
    body = next(m["body"] for m in sent if m["path"] == "/compare" and m.get("body"))
    assert json.loads(body)["error"]["code"] == "overloaded"
    assert starts["/livez"]["status"] == 200
    assert [
        m["status"] for m in sent if m["type"] == "http.response.start" and m["path"] == "/slow"
    ] == [200, 200]
    # the slots are given back: a later request passes
    sent.clear()
    asyncio.run(call("/compare"))
    assert sent[0]["status"] == 200
