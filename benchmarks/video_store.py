"""The video job store's operations (facereid.video.store) on SQLite and on a local Redis:
median milliseconds per call over one job's life (add, claim, heartbeat, status read,
finish with a small result). Every API worker pays a claim/reap per poll and a heartbeat per
running job per second, so these bound the store's share of the load.
Run: ``python -m benchmarks.video_store`` (``STORE_JOBS=200``; Redis needs redis-server).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import env_ints, markdown_table
from facereid.video.store import COMPLETED, JobRecord, JobStore
from facereid.video.store_redis import RedisJobStore
from facereid.video.store_sqlite import SQLiteJobStore
from tests.harness import free_port

STEPS = ("add", "claim", "heartbeat", "status", "finish")


def job_life_ms(store: JobStore, jobs: int) -> list[float]:
    spent: dict[str, list[float]] = {step: [] for step in STEPS}

    def timed(step: str, call: Callable[..., object], *args: object, **kwargs: object) -> object:
        started = time.perf_counter()
        value = call(*args, **kwargs)
        spent[step].append((time.perf_counter() - started) * 1000)
        return value

    for number in range(jobs):
        record = JobRecord(uuid.uuid4().hex, f"k{number % 4}", "/none", 2.0, False)
        timed("add", store.add, record, 1_000_000, 1_000_000)
        job = timed("claim", store.claim, "bench", 30)
        assert isinstance(job, JobRecord)
        timed("heartbeat", store.heartbeat, job.job_id, "bench", 30, 1, 2)
        timed("status", store.get, job.job_id)
        result = {"identities": list(range(100))}
        timed("finish", store.finish, job.job_id, "bench", COMPLETED, 60, result=result)
    return [round(statistics.median(spent[step]), 3) for step in STEPS]


def main() -> int:
    jobs = env_ints("STORE_JOBS", "200")[0]
    rows = []
    folder = Path(tempfile.mkdtemp())
    try:
        rows.append(["sqlite (WAL)", *job_life_ms(SQLiteJobStore(folder / "jobs.sqlite3"), jobs)])
        binary = shutil.which("redis-server")
        if binary is not None:
            port = str(free_port())
            server = subprocess.Popen(
                [binary, "--port", port, "--bind", "127.0.0.1", "--save", ""],
                stdout=subprocess.DEVNULL,
            )
            try:
                time.sleep(0.5)
                store = RedisJobStore(f"redis://127.0.0.1:{port}/0", f"bench:{uuid.uuid4().hex}:")
                rows.append(["redis (local)", *job_life_ms(store, jobs)])
            finally:
                server.terminate()
                server.wait(timeout=10)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    headers = ["store", *(f"{step} ms" for step in STEPS)]
    sys.stdout.write(markdown_table(headers, rows) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
