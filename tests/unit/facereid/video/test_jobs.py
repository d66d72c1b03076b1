"""The job table and the scheduler: tenants, quotas, fair order, cancel, expiry, echo."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from facereid.errors import JobNotFoundError, TooManyJobsError
from facereid.video import jobs as video_jobs
from facereid.video.scheduler import FairScheduler


def upload(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    path = folder / "upload"
    path.write_bytes(b"x")
    return path


def test_another_tenants_job_does_not_exist_for_you(tmp_path: Path) -> None:
    table = video_jobs.VideoJobs(60, 8)
    job = table.create("ka", upload(tmp_path, "a"), 2.0, False)
    assert table.get(job.job_id, "ka") is job
    for call in (table.get, table.result, table.cancel):
        with pytest.raises(JobNotFoundError) as err:
            call(job.job_id, "kb")
        assert err.value.status == 404
    assert job.status == video_jobs.QUEUED  # kb's cancel did nothing


def test_quota_per_tenant_and_overall(tmp_path: Path) -> None:
    table = video_jobs.VideoJobs(60, max_jobs=3, max_jobs_per_tenant=2)
    table.create("ka", upload(tmp_path, "1"), 2.0, False)
    table.create("ka", upload(tmp_path, "2"), 2.0, False)
    with pytest.raises(TooManyJobsError, match="VIDEO_MAX_JOBS_PER_TENANT"):
        table.create("ka", upload(tmp_path, "3"), 2.0, False)
    table.create("kb", upload(tmp_path, "4"), 2.0, False)  # kb still has room
    with pytest.raises(TooManyJobsError, match="waiting or running"):
        table.create("kc", upload(tmp_path, "5"), 2.0, False)


def test_cancelling_a_queued_job_ends_it_and_deletes_its_upload(tmp_path: Path) -> None:
    table = video_jobs.VideoJobs(60, 8)
    path = upload(tmp_path, "a")
    job = table.create("ka", path, 2.0, False)
    table.cancel(job.job_id, "ka")
    assert job.status == video_jobs.CANCELLED and job.error is not None
    assert not path.parent.exists()
    assert not job.claim()  # the scheduler will skip it


def test_echoed_job_id_is_truncated(tmp_path: Path) -> None:
    table = video_jobs.VideoJobs(60, 8)
    with pytest.raises(JobNotFoundError) as err:
        table.get("x" * 1_000_000, "ka")
    assert len(err.value.message) < 120


def test_expiry_while_other_threads_read_the_table(tmp_path: Path) -> None:
    """``expire`` deletes while ``get`` runs in other threads: no 'dictionary changed size
    during iteration', no lost live job."""
    table = video_jobs.VideoJobs(ttl_s=0.0, max_jobs=10_000, max_jobs_per_tenant=10_000)
    live = table.create("ka", upload(tmp_path, "live"), 2.0, False)
    errors: list[BaseException] = []

    def churn() -> None:
        try:
            for n in range(300):
                job = table.create("kb", Path(f"/nonexistent/{n}"), 2.0, False)
                job.finish(video_jobs.COMPLETED)
                table.get(live.job_id, "ka")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=churn) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    time.sleep(0.01)
    table.expire()
    assert errors == []
    assert table.get(live.job_id, "ka") is live


def test_jobs_are_taken_round_robin_across_tenants(tmp_path: Path) -> None:
    table = video_jobs.VideoJobs(60, 100, 100)
    started: list[str] = []

    async def scenario() -> None:
        gate = asyncio.Event()

        async def run(job: video_jobs.VideoJob) -> None:
            started.append(job.tenant)
            await gate.wait()
            job.finish(video_jobs.COMPLETED)

        scheduler = FairScheduler(slots=1, run=run)
        jobs = [table.create("ka", upload(tmp_path, f"a{n}"), 2.0, False) for n in range(5)]
        jobs += [table.create("kb", upload(tmp_path, f"b{n}"), 2.0, False) for n in range(2)]
        jobs += [table.create("kc", upload(tmp_path, f"c{n}"), 2.0, False) for n in range(1)]
        for job in jobs:
            scheduler.submit(job)
        assert scheduler.running == 0 and jobs[0].status == video_jobs.QUEUED
        await asyncio.sleep(0)
        assert scheduler.running == 1 and scheduler.queued == 7
        gate.set()
        while scheduler.running or scheduler.queued:
            await asyncio.sleep(0)

    asyncio.run(scenario())
    # ka came first and had five; kb and kc still got their turns before ka's second job.
    assert started == ["ka", "kb", "kc", "ka", "kb", "ka", "ka", "ka"]


def test_the_scheduler_bounds_jobs_running_at_once(tmp_path: Path) -> None:
    table = video_jobs.VideoJobs(60, 100, 100)
    peak = 0

    async def scenario() -> None:
        nonlocal peak
        running = 0

        async def run(job: video_jobs.VideoJob) -> None:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.001)
            running -= 1
            job.finish(video_jobs.COMPLETED)

        scheduler = FairScheduler(slots=2, run=run)
        for n in range(6):
            scheduler.submit(table.create(f"k{n % 3}", upload(tmp_path, str(n)), 2.0, False))
        while scheduler.running or scheduler.queued:
            await asyncio.sleep(0.001)

    asyncio.run(scenario())
    assert peak == 2
