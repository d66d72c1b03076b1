"""The durable job store on both back ends (SQLite file, real Redis): tenants, quotas, fair
order, leases, cross-worker cancel, expiry, and records that outlive the store object."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from facereid.errors import JobNotFoundError, TooManyJobsError
from facereid.video.jobs import VideoJobs
from facereid.video.store import CANCELLED, COMPLETED, FAILED, QUEUED, RUNNING, JobStore
from facereid.video.store_redis import RedisJobStore
from facereid.video.store_sqlite import SQLiteJobStore
from facereid.video.uploads import UploadArea
from tests.redis_helper import redis_server

Opener = Callable[[], JobStore]


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "redis"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens stores on one shared back end, as separate processes would."""
    opened: list[JobStore] = []
    prefix = f"test:{uuid.uuid4().hex}:"

    def open_store() -> JobStore:
        if request.param == "sqlite":
            store: JobStore = SQLiteJobStore(tmp_path / "jobs.sqlite3")
        else:
            store = RedisJobStore(request.getfixturevalue("redis_url"), prefix)
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        store.close()


def table(opener: Opener, tmp_path: Path, **limits: int) -> VideoJobs:
    store = opener()
    return VideoJobs(
        store,
        UploadArea(tmp_path / "uploads"),
        ttl_s=limits.get("ttl_s", 60),
        max_jobs=limits.get("max_jobs", 100),
        max_jobs_per_tenant=limits.get("per_tenant", 100),
    )


def submit(jobs: VideoJobs, tmp_path: Path, tenant: str) -> str:
    sent = tmp_path / f"sent-{uuid.uuid4().hex}"
    sent.write_bytes(b"x")
    job_id = jobs.new_id()
    path = jobs.take_upload(job_id, sent, 100)
    return jobs.create(job_id, tenant, path, 2.0, False).job_id


def test_another_tenants_job_does_not_exist_for_you(opener: Opener, tmp_path: Path) -> None:
    jobs = table(opener, tmp_path)
    job_id = submit(jobs, tmp_path, "ka")
    assert jobs.get(job_id, "ka").tenant == "ka"
    for call in (jobs.get, jobs.result, jobs.cancel):
        with pytest.raises(JobNotFoundError) as err:
            call(job_id, "kb")
        assert err.value.status == 404
    assert jobs.get(job_id, "ka").status == QUEUED  # kb's cancel did nothing


def test_quota_per_tenant_and_overall(opener: Opener, tmp_path: Path) -> None:
    jobs = table(opener, tmp_path, max_jobs=3, per_tenant=2)
    submit(jobs, tmp_path, "ka")
    submit(jobs, tmp_path, "ka")
    with pytest.raises(TooManyJobsError, match="VIDEO_MAX_JOBS_PER_TENANT"):
        submit(jobs, tmp_path, "ka")
    submit(jobs, tmp_path, "kb")  # kb still has room
    with pytest.raises(TooManyJobsError, match="waiting or running"):
        submit(jobs, tmp_path, "kc")


def test_cancelling_a_queued_job_ends_it_and_deletes_its_upload(
    opener: Opener, tmp_path: Path
) -> None:
    jobs = table(opener, tmp_path)
    job_id = submit(jobs, tmp_path, "ka")
    upload = Path(jobs.get(job_id, "ka").upload)
    assert upload.is_file()
    record = jobs.cancel(job_id, "ka")
    assert record.status == CANCELLED and record.error is not None
    assert record.error["code"] == "job_cancelled"
    assert not upload.parent.exists()
    assert jobs.store.claim("w", 30) is None  # nothing left to run


def test_a_cancel_sent_anywhere_reaches_the_running_worker(opener: Opener, tmp_path: Path) -> None:
    here, there = table(opener, tmp_path), table(opener, tmp_path)
    job_id = submit(here, tmp_path, "ka")
    claimed = here.store.claim("w1", 30)
    assert claimed is not None and claimed.job_id == job_id
    assert here.store.heartbeat(job_id, "w1", 30, 3, 10) == "ok"
    assert there.get(job_id, "ka").frames_done == 3  # progress is shared
    assert there.cancel(job_id, "ka").status == RUNNING  # stops at the next heartbeat
    assert here.store.heartbeat(job_id, "w1", 30, 4, 10) == "cancelled"


def test_jobs_are_claimed_round_robin_across_tenants(opener: Opener, tmp_path: Path) -> None:
    jobs = table(opener, tmp_path)
    for tenant, count in (("ka", 5), ("kb", 2), ("kc", 1)):
        for _ in range(count):
            submit(jobs, tmp_path, tenant)
    other = table(opener, tmp_path).store  # a second worker shares the turns
    started: list[str] = []
    for n in range(8):
        store = (jobs.store, other)[n % 2]
        job = store.claim(f"w{n % 2}", 30)
        assert job is not None
        started.append(job.tenant)
        assert store.finish(job.job_id, f"w{n % 2}", COMPLETED, 60, result={"n": n})
    # ka came first and had five; kb and kc still got their turns before ka's second job.
    assert started == ["ka", "kb", "kc", "ka", "kb", "ka", "ka", "ka"]


def test_a_tenant_with_a_running_job_waits_for_one_without(opener: Opener, tmp_path: Path) -> None:
    jobs = table(opener, tmp_path)
    submit(jobs, tmp_path, "ka")
    submit(jobs, tmp_path, "ka")
    first = jobs.store.claim("w", 30)
    submit(jobs, tmp_path, "kb")
    second = jobs.store.claim("w", 30)
    assert first is not None and second is not None
    assert (first.tenant, second.tenant) == ("ka", "kb")


def test_a_dead_workers_job_is_retried_then_ends_worker_lost(
    opener: Opener, tmp_path: Path
) -> None:
    jobs = table(opener, tmp_path)
    job_id = submit(jobs, tmp_path, "ka")
    assert jobs.store.claim("dead", lease_s=0.01) is not None
    time.sleep(0.05)  # ordering, not timing: the lease must have run out
    assert jobs.store.reap(60, max_attempts=2) == []  # queued again: one attempt left
    assert jobs.get(job_id, "ka").status == QUEUED
    assert jobs.store.heartbeat(job_id, "dead", 30, 1, 1) == "lost"  # the zombie must stop
    assert jobs.store.claim("dead-too", lease_s=0.01) is not None
    time.sleep(0.05)
    ended = jobs.store.reap(60, max_attempts=2)
    assert [job.job_id for job in ended] == [job_id]
    record = jobs.get(job_id, "ka")
    assert record.status == FAILED and record.error is not None
    assert record.error["code"] == "worker_lost" and record.error_status == 503
    # a worker that comes back late cannot overwrite the verdict
    assert not jobs.store.finish(job_id, "dead-too", COMPLETED, 60, result={"late": True})
    assert jobs.result(job_id, "ka")[1] is None


def test_a_dead_workers_cancelled_job_ends_cancelled(opener: Opener, tmp_path: Path) -> None:
    jobs = table(opener, tmp_path)
    job_id = submit(jobs, tmp_path, "ka")
    assert jobs.store.claim("dead", lease_s=0.01) is not None
    assert jobs.cancel(job_id, "ka").status == RUNNING  # flagged; nobody will read it
    time.sleep(0.05)
    assert [job.job_id for job in jobs.store.reap(60, max_attempts=5)] == [job_id]
    record = jobs.get(job_id, "ka")
    assert record.status == CANCELLED and record.error is not None
    assert record.error["code"] == "job_cancelled"


def test_a_live_lease_is_not_reaped(opener: Opener, tmp_path: Path) -> None:
    jobs = table(opener, tmp_path)
    job_id = submit(jobs, tmp_path, "ka")
    assert jobs.store.claim("w", lease_s=60) is not None
    assert jobs.store.reap(60, max_attempts=1) == []
    assert jobs.get(job_id, "ka").status == RUNNING


def test_results_outlive_the_store_object_until_their_ttl(opener: Opener, tmp_path: Path) -> None:
    jobs = table(opener, tmp_path, ttl_s=60)
    job_id = submit(jobs, tmp_path, "ka")
    assert jobs.store.claim("w", 30) is not None
    assert jobs.store.finish(job_id, "w", COMPLETED, 60, result={"num_identities": 2})
    jobs.store.close()
    reopened = table(opener, tmp_path)  # another process, or this one after a restart
    record, result = reopened.result(job_id, "ka")
    assert record.status == COMPLETED and result == {"num_identities": 2}


def test_expired_jobs_are_not_found(opener: Opener, tmp_path: Path) -> None:
    jobs = table(opener, tmp_path)
    job_id = submit(jobs, tmp_path, "ka")
    assert jobs.store.claim("w", 30) is not None
    assert jobs.store.finish(job_id, "w", COMPLETED, ttl_s=0.01, result={"n": 1})
    time.sleep(0.05)
    for call in (jobs.get, jobs.result, jobs.cancel):
        with pytest.raises(JobNotFoundError):
            call(job_id, "ka")
    jobs.store.reap(60, 2)  # purges
    assert jobs.store.load(job_id) is None


def test_echoed_job_id_is_truncated(opener: Opener, tmp_path: Path) -> None:
    jobs = table(opener, tmp_path)
    with pytest.raises(JobNotFoundError) as err:
        jobs.get("x" * 1_000_000, "ka")
    assert len(err.value.message) < 120


def test_the_settings_pick_the_store(tmp_path: Path, redis_url: str) -> None:
    from facereid.config import Settings
    from facereid.video.store_open import open_store

    default = open_store(Settings(data_dir=str(tmp_path), job_store_url=""))
    assert isinstance(default, SQLiteJobStore)
    assert default.path == tmp_path / "jobs.sqlite3"
    elsewhere = open_store(Settings(job_store_url=f"sqlite://{tmp_path}/other.sqlite3"))
    assert isinstance(elsewhere, SQLiteJobStore)
    assert elsewhere.path == tmp_path / "other.sqlite3"
    shared = open_store(Settings(job_store_url=redis_url))
    assert isinstance(shared, RedisJobStore)
    shared.close()
    for wrong in ("http://redis:6379", "postgres://db/jobs", "redis"):
        with pytest.raises(ValueError, match="JOB_STORE_URL"):
            open_store(Settings(job_store_url=wrong))


@pytest.mark.parametrize(
    "setting", [{"api_workers": 0}, {"video_job_lease_s": 0.1}, {"video_job_max_attempts": 0}]
)
def test_out_of_range_job_settings_are_refused(setting: dict[str, float]) -> None:
    from pydantic import ValidationError

    from facereid.config import Settings

    with pytest.raises(ValidationError):
        Settings(**setting)  # type: ignore[arg-type]


def test_an_unreachable_store_is_a_503_not_a_crash(tmp_path: Path) -> None:
    from facereid.video.store import JobStoreUnavailableError
    from tests.harness import free_port

    down = RedisJobStore(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    jobs = VideoJobs(down, UploadArea(tmp_path / "uploads"), 60, 4)
    for call in (jobs.get, jobs.result, jobs.cancel):
        with pytest.raises(JobStoreUnavailableError) as err:
            call("0" * 32, "ka")
        assert err.value.status == 503 and err.value.code == "job_store_unavailable"
    with pytest.raises(JobStoreUnavailableError):
        jobs.create(jobs.new_id(), "ka", tmp_path / "upload", 2.0, False)
    down.close()
