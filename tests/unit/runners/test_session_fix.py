"""BentoML's dependency client must not close a session that calls are still using."""

from __future__ import annotations

import asyncio

import pytest
from _bentoml_impl.client.proxy2 import SessionManager

from runners import session_fix


def test_a_refreshed_session_stays_open_for_calls_in_flight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session_fix.install()
    session_fix.install()  # idempotent
    monkeypatch.setattr(session_fix, "MARGIN_S", 0.0)

    async def scenario() -> None:
        manager = SessionManager("http://127.0.0.1:9", timeout=0.2, headers={}, max_requests=3)
        first = await manager.get_session()
        for _ in range(3):  # the refresh comes with the fourth request
            await manager.get_session()
        second = await manager.get_session()
        assert second is not first
        assert not first.closed  # before the fix: closed at once, cutting calls on it
        await asyncio.sleep(0.4)  # past the client's timeout: nothing can still use it
        assert first.closed
        await manager.close()

    asyncio.run(scenario())
