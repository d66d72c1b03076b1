"""``JobWorker``: claim loops of several workers over one store, bounded per worker; a job
runs once; a job whose lease was taken away is not written by its old worker."""

from __future__ import annotations

import asyncio
from pathlib import Path

from facereid.config import Settings
from facereid.video.jobs import VideoJobs
from facereid.video.pipeline import JobOutcome, RunState
from facereid.video.scheduler import JobWorker
from facereid.video.store import COMPLETED, FINISHED, RUNNING, JobRecord
from tests.unit.facereid.video.fakes import job_stack


def queue_jobs(root: Path, count: int, settings: Settings) -> tuple[list[str], VideoJobs]:
    jobs, settings = job_stack(root, settings)
    ids = []
    for n in range(count):
        sent = root / f"sent-{n}"
        sent.write_bytes(b"x")
        job_id = jobs.new_id()
        path = jobs.take_upload(job_id, sent, 10)
        ids.append(jobs.create(job_id, f"k{n % 3}", path, 2.0, False).job_id)
    return ids, jobs


def test_two_workers_share_the_queue_each_job_runs_once(tmp_path: Path) -> None:
    settings = Settings(video_concurrent_jobs=2, video_max_jobs=20, video_max_jobs_per_tenant=10)
    ids, jobs = queue_jobs(tmp_path, 9, settings)
    runs: list[str] = []
    running = {"now": 0, "peak": 0}

    async def run(job: JobRecord, progress: RunState) -> JobOutcome:
        runs.append(job.job_id)
        running["now"] += 1
        running["peak"] = max(running["peak"], running["now"])
        await asyncio.sleep(0.02)
        progress.frames_done = 3
        running["now"] -= 1
        return JobOutcome(COMPLETED, {"job": job.job_id})

    fast = job_stack(tmp_path, settings)[1]
    workers = [JobWorker(jobs.store, jobs.uploads, fast, run) for _ in range(2)]

    async def scenario() -> None:
        for worker in workers:
            worker.start()
        while any(jobs.get(i, f"k{n % 3}").status not in FINISHED for n, i in enumerate(ids)):
            await asyncio.sleep(0.01)
        for worker in workers:
            await worker.stop()

    asyncio.run(scenario())
    assert sorted(runs) == sorted(ids)  # every job once, none twice
    assert 2 < running["peak"] <= 4  # both workers ran jobs, each at most two at once
    for n, job_id in enumerate(ids):
        record, result = jobs.result(job_id, f"k{n % 3}")
        assert record.status == COMPLETED and result == {"job": job_id}
        assert record.frames_done == 3 and record.frames_total == 3
        assert not Path(record.upload).exists()  # uploads go when their job ends


def test_a_worker_that_lost_its_lease_does_not_write_the_job(tmp_path: Path) -> None:
    ids, jobs = queue_jobs(tmp_path, 1, Settings())
    started = asyncio.Event()
    release = asyncio.Event()

    async def run(job: JobRecord, progress: RunState) -> JobOutcome:
        started.set()
        await release.wait()
        return JobOutcome(COMPLETED, {"stale": True})

    fast = job_stack(tmp_path)[1]
    worker = JobWorker(jobs.store, jobs.uploads, fast, run)

    async def scenario() -> None:
        worker.start()
        await started.wait()
        # Another worker decided this one was dead and took the job back.
        store = jobs.store
        with store.locked():
            record = store.load(ids[0])
            assert record is not None
            record.worker, record.status = "someone-else", RUNNING
            store.save(record)
        while worker._running:  # its heartbeat sees "lost" and drops the job
            await asyncio.sleep(0.01)
        await worker.stop()

    asyncio.run(scenario())
    record = jobs.store.load(ids[0])
    assert record is not None
    assert record.worker == "someone-else" and record.status == RUNNING
    assert jobs.store.load_result(ids[0]) is None
    assert Path(record.upload).exists()  # the new owner still needs it
