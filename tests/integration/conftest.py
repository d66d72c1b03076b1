"""Integration tests talk HTTP to real ``bentoml serve`` processes.

The servers are session fixtures in tests/conftest.py (``synthetic_server``, ``dlib_server``,
``synthetic_home``), shared with the load-test smoke run; tests that need a server of their own
start it with ``tests.harness.start_server``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.schema_check import AnswerChecker

_send = httpx.Client.send
_send_async = httpx.AsyncClient.send
_checker = AnswerChecker(lambda url: httpx.get(url, timeout=30))  # before any wrapping


@pytest.fixture(autouse=True)
def checked_answers(monkeypatch: pytest.MonkeyPatch) -> Iterator[AnswerChecker]:
    """Each 200 answer a test receives matches the schema its route declares (schema_check)."""
    _checker.forget()

    def send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        response = _send(self, request, **kwargs)
        _checker.check(response)
        return response

    async def send_async(
        self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any
    ) -> httpx.Response:
        response = await _send_async(self, request, **kwargs)
        _checker.check(response)
        return response

    monkeypatch.setattr(httpx.Client, "send", send)
    monkeypatch.setattr(httpx.AsyncClient, "send", send_async)
    yield _checker


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _checker.checked:
        terminalreporter.write_line(
            f"schema check: {_checker.checked} answers matched their declared schemas"
        )
