"""A fix for BentoML 1.4.40's dependency client: old sessions are closed late, not at once.

``_bentoml_impl.client.proxy2.SessionManager`` (the client behind ``bentoml.depends``)
replaces its aiohttp session after 100 requests or 300 s and closes the old one right away,
which cuts the connections of calls still in flight on it: a 9 s ``/gallery/cluster`` failed
with ``ServerDisconnectedError`` (503 ``gallery_unavailable``) whenever other tenants made 100
gallery calls meanwhile (issue 21's attack benchmark). Here the old session is closed only
after the client's own timeout (plus a margin), when every call on it has finished or timed
out. ``tests/unit/runners/test_session_fix.py`` fails if a BentoML upgrade changes what this
relies on.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

logger = logging.getLogger(__name__)

MARGIN_S = 5.0
_closing: set[asyncio.Task[None]] = set()  # strong references until each close has run


async def _close_later(session: Any, delay_s: float) -> None:
    await asyncio.sleep(delay_s)
    await session.close()


def install() -> None:
    """Idempotent; called where the API service is imported (``service.py``)."""
    from _bentoml_impl.client.proxy2 import SessionManager

    if getattr(SessionManager.get_session, "_facereid_fix", False):
        return
    original = SessionManager.get_session

    async def get_session(self: Any) -> Any:
        if self._session is not None and self._should_refresh():
            old, self._session = self._session, None  # the original then makes a new one
            total = self._timeout.total or 300.0
            task = asyncio.get_running_loop().create_task(_close_later(old, total + MARGIN_S))
            _closing.add(task)
            task.add_done_callback(_closing.discard)
        return await original(self)

    get_session._facereid_fix = True  # type: ignore[attr-defined]
    SessionManager.get_session = get_session
