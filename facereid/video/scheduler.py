"""Which video job runs next: a bounded number at once, taken round-robin across tenants.

A tenant with many queued jobs cannot starve another: the next job comes from the tenant with
the fewest running jobs, and among those the one served longest ago (a tenant new to the
queue counts as never served). Everything here runs on the event loop thread (submit is
called from an ``async`` route, and a job's end from its own task), so the queues need no lock;
a job cancelled while queued is skipped by ``VideoJob.claim``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from facereid.video.jobs import VideoJob

logger = logging.getLogger(__name__)


class FairScheduler:
    def __init__(self, slots: int, run: Callable[[VideoJob], Awaitable[None]]) -> None:
        self.slots = max(1, slots)
        self._run = run
        self._queues: dict[str, deque[VideoJob]] = {}
        self._running_of: dict[str, int] = {}
        self._served_at: dict[str, int] = {}  # tenant -> number of the start that served it
        self._starts = 0
        self.running = 0

    @property
    def queued(self) -> int:
        return sum(len(queue) for queue in self._queues.values())

    def submit(self, job: VideoJob) -> None:
        """Queue a job; it is started on the loop's next turn, so the submit reply still
        shows it ``queued``."""
        self._queues.setdefault(job.tenant, deque()).append(job)
        asyncio.get_running_loop().call_soon(self._dispatch)

    def _dispatch(self) -> None:
        while self.running < self.slots:
            job = self._take()
            if job is None:
                return
            self.running += 1
            self._running_of[job.tenant] = self._running_of.get(job.tenant, 0) + 1
            self._starts += 1
            self._served_at[job.tenant] = self._starts
            job.task = asyncio.get_running_loop().create_task(self._life(job))

    def _take(self) -> VideoJob | None:
        while self._queues:
            tenant = min(
                self._queues,
                key=lambda t: (self._running_of.get(t, 0), self._served_at.get(t, 0)),
            )
            queue = self._queues[tenant]
            job = queue.popleft()
            if not queue:
                del self._queues[tenant]
            if job.claim():  # false when it was cancelled while queued
                return job
        return None

    async def _life(self, job: VideoJob) -> None:
        try:
            await self._run(job)
        finally:
            self.running -= 1
            self._running_of[job.tenant] -= 1
            if not self._running_of[job.tenant]:
                del self._running_of[job.tenant]
            self._dispatch()
