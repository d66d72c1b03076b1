"""A scripted API behind httpx.MockTransport: each route answers from a list, and every
request is recorded, so a test checks both what the CLI sent and what it printed."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from facereid.cli import client as client_mod
from facereid.cli import main as main_mod

Answer = tuple[int, Any]


class FakeApi:
    def __init__(self) -> None:
        self.routes: dict[str, list[Answer] | Callable[[httpx.Request], Answer]] = {}
        self.requests: list[httpx.Request] = []

    def on(self, path: str, *answers: Answer) -> None:
        self.routes[path] = list(answers)

    def body(self, index: int) -> Any:
        return json.loads(self.requests[index].content)

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        route = self.routes.get(request.url.path)
        if route is None:
            return httpx.Response(404, json={"error": {"code": "not_found", "message": "nope"}})
        status, payload = (
            route(request) if callable(route) else (route.pop(0) if len(route) > 1 else route[0])
        )
        if isinstance(payload, str):
            return httpx.Response(status, text=payload)
        return httpx.Response(status, json=payload)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        transport = httpx.MockTransport(self.handle)

        def factory(url: str, key: str | None = None, timeout: float = 1.0) -> Any:
            return client_mod.ApiClient(url, key, timeout, transport=transport)

        monkeypatch.setattr(main_mod, "ApiClient", factory)


def face(x: float, model: str = "dlib/dlib_face_recognition_resnet_model_v1/128") -> dict[str, Any]:
    return {
        "bbox": [x, 10.0, 50.0, 60.0],
        "landmarks": [[1.0, 2.0]] * 5,
        "embedding": [0.6, 0.8],
        "confidence": 0.9,
        "emotions": {"happy": 0.7, "sad": 0.3},
        "embedding_model": model,
    }
