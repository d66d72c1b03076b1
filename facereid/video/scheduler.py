"""Each API worker's share of the video jobs: claim queued jobs from the store, run them,
keep their leases alive, and clean up after workers that died.

Which job runs next is decided by the store (``facereid.video.store.pick_next``: fewest
running jobs per tenant, then the tenant served longest ago), under its lock, so fairness
holds across every worker and replica. A worker runs at most ``VIDEO_CONCURRENT_JOBS`` jobs
at once. While a job runs, its heartbeat renews the lease every ``VIDEO_JOB_HEARTBEAT_S``,
writes progress and reads the cancel flag, which is how a cancel sent to any replica reaches
this one. Store calls are blocking (SQLite, Redis), so they run in worker threads.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import anyio

from facereid.config import Settings
from facereid.video.pipeline import JobOutcome, RunState
from facereid.video.store import JobRecord, JobStore
from facereid.video.uploads import UploadArea, discard_upload

logger = logging.getLogger(__name__)

RunJob = Callable[[JobRecord, RunState], Coroutine[Any, Any, JobOutcome]]
_SWEEP_EVERY_S = 60.0


class JobWorker:
    def __init__(
        self, store: JobStore, uploads: UploadArea, settings: Settings, run: RunJob
    ) -> None:
        self.store = store
        self.uploads = uploads
        self.slots = max(1, settings.video_concurrent_jobs)
        self.lease_s = settings.video_job_lease_s
        self.beat_s = min(settings.video_job_heartbeat_s, self.lease_s / 3)
        self.poll_s = settings.video_job_poll_s
        self.ttl_s = settings.video_result_ttl_s
        self.max_attempts = settings.video_job_max_attempts
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._run = run
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._running: dict[str, tuple[asyncio.Task[None], RunState]] = {}
        self._swept_at = 0.0

    def start(self) -> None:
        """Start claiming (call on the event loop, once)."""
        if self._loop_task is None:
            self._wake = asyncio.Event()
            self._loop_task = asyncio.get_running_loop().create_task(self._claim_loop())

    def wake(self) -> None:
        """A job was just queued here: look now rather than at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        """Shutting down: running jobs go back to the queue for another worker."""
        if self._loop_task is not None:
            self._loop_task.cancel()
        running = dict(self._running)
        for task, progress in running.values():
            progress.stop = "shutdown"
            task.cancel()
        for job_id in running:
            await anyio.to_thread.run_sync(self.store.release, job_id, self.worker_id)

    async def _claim_loop(self) -> None:
        while True:
            try:
                await self._housekeeping()
                while len(self._running) < self.slots:
                    job = await anyio.to_thread.run_sync(
                        self.store.claim, self.worker_id, self.lease_s
                    )
                    if job is None:
                        break
                    self._start(job)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a store outage must not end the loop: retry next turn
                logger.warning("video job store unavailable (%s); retrying", type(exc).__name__)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_s)
            except TimeoutError:
                pass
            self._wake.clear()

    async def _housekeeping(self) -> None:
        ended = await anyio.to_thread.run_sync(self.store.reap, self.ttl_s, self.max_attempts)
        for job in ended:
            logger.warning(
                "video job %s ended %s: its worker's lease ran out", job.job_id, job.status
            )
            discard_upload(self.uploads.path_of(job.job_id))
        if time.monotonic() - self._swept_at > _SWEEP_EVERY_S:
            self._swept_at = time.monotonic()
            active = await anyio.to_thread.run_sync(self.store.active_ids)
            await anyio.to_thread.run_sync(self.uploads.sweep, active)

    def _start(self, job: JobRecord) -> None:
        # This host's own path to the upload: replicas may mount the shared DATA_DIR elsewhere.
        job.upload = str(self.uploads.path_of(job.job_id))
        progress = RunState(frames_total=job.frames_total)
        task = asyncio.get_running_loop().create_task(self._life(job, progress))
        self._running[job.job_id] = (task, progress)

    async def _life(self, job: JobRecord, progress: RunState) -> None:
        work = asyncio.get_running_loop().create_task(self._run(job, progress))
        try:
            await self._beat_until_done(job, progress, work)
            # Lost or shut down (the runner re-raised): the job is not ours to end.
            failed = work.cancelled() or work.exception() is not None
            if not failed and progress.stop not in ("lost", "shutdown"):
                outcome = work.result()
                if outcome.retryable and await self._retry(job):
                    return
                await anyio.to_thread.run_sync(self._finish, job, progress, outcome)
        except asyncio.CancelledError:
            work.cancel()  # shutting down: the job's own task must not run on orphaned
            raise
        except Exception:
            logger.exception("video job %s: could not record its end", job.job_id)
        finally:
            self._running.pop(job.job_id, None)
            self._wake.set()  # a slot is free

    async def _retry(self, job: JobRecord) -> bool:
        """A failure that is not the video's: queue the job again while it has attempts."""
        # A model service that went away may be this server shutting down: its hook then
        # cancels this task during the pause and hands the job back without using an attempt.
        await asyncio.sleep(2 * self.beat_s)
        if job.attempts >= self.max_attempts:
            return False
        logger.warning("video job %s: attempt %d failed; queued again", job.job_id, job.attempts)
        await anyio.to_thread.run_sync(self.store.release, job.job_id, self.worker_id, True)
        return True

    async def _beat_until_done(
        self, job: JobRecord, progress: RunState, work: asyncio.Task[JobOutcome]
    ) -> None:
        while not work.done():
            await asyncio.wait({work}, timeout=self.beat_s)
            if work.done():
                return
            try:
                beat = await anyio.to_thread.run_sync(
                    self.store.heartbeat,
                    job.job_id,
                    self.worker_id,
                    self.lease_s,
                    progress.frames_done,
                    progress.frames_total,
                )
            except Exception:  # the store is down: keep working, the lease may still hold
                logger.exception("video job %s: heartbeat failed", job.job_id)
                continue
            if beat != "ok" and progress.stop is None:
                progress.stop = beat
                work.cancel()

    def _finish(self, job: JobRecord, progress: RunState, outcome: JobOutcome) -> bool:
        # The last progress first, so a completed job reports every frame it read.
        self.store.heartbeat(
            job.job_id, self.worker_id, self.lease_s, progress.frames_done, progress.frames_total
        )
        ended = self.store.finish(
            job.job_id, self.worker_id, outcome.status, self.ttl_s, outcome.error, outcome.result
        )
        if ended:
            # Here, in the same thread as the write: a stop() that cancels the awaiting task
            # once the end is recorded must not leave the upload behind.
            discard_upload(Path(job.upload))
        return ended
