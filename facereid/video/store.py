"""The durable video job store: one record per job, shared by every API worker and replica.

A job's record (owner, status, progress, cancel request, lease), its result and its upload
outlive the process that accepted it, so a restart loses nothing and any replica answers for
any job (docs/video.md, *Durable jobs*). Two back ends share the logic here: SQLite in WAL
mode under ``DATA_DIR`` (one host, any number of processes) and Redis (``JOB_STORE_URL``,
several hosts). Each only provides a lock over the whole store and record reads and writes;
the decisions (quotas, the fair pick, leases, cancel, expiry) are made here, under that lock,
so both back ends behave the same.

Leases: a worker that claims a job holds it for ``lease_s`` and renews it with every
heartbeat. A job whose lease ran out belongs to a worker that died; ``reap`` queues it again
(from the start) while it has attempts left, else ends it ``failed`` with ``worker_lost``.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from facereid.errors import FaceReIDError, JobCancelledError, TooManyJobsError

QUEUED, RUNNING, COMPLETED = "queued", "running", "completed"
FAILED, CANCELLED = "failed", "cancelled"
FINISHED = (COMPLETED, FAILED, CANCELLED)
Beat = Literal["ok", "cancelled", "lost"]


class WorkerLostError(FaceReIDError):
    """The worker running the job died (a crash, a kill) and its lease ran out."""

    code = "worker_lost"
    status = 503


class JobStoreUnavailableError(FaceReIDError):
    """The job store (SQLite file or Redis) did not answer; the request may be retried."""

    code = "job_store_unavailable"
    status = 503


@dataclass
class JobRecord:
    job_id: str
    tenant: str
    upload: str
    sample_fps: float
    include_emotions: bool
    status: str = QUEUED
    frames_done: int = 0
    frames_total: int | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    expires: float | None = None
    error: dict[str, str] | None = None
    error_status: int = 500
    cancel_requested: bool = False
    worker: str | None = None
    lease_until: float | None = None
    attempts: int = 0
    # issue 13: identities are searched in this gallery of the tenant's when the job ends
    # (a default, so records stored before the field existed still load)
    gallery: str | None = None
    # issue 24: the best face of each identity gets its age, gender and pose
    include_attributes: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> JobRecord:
        return cls(**json.loads(text))

    def end(self, status: str, now: float, ttl_s: float, error: FaceReIDError | None) -> None:
        self.status, self.finished, self.expires = status, now, now + ttl_s
        self.worker, self.lease_until, self.cancel_requested = None, None, False
        if error is not None:
            self.error = {"code": error.code, "message": error.message}
            self.error_status = error.status


class JobStore(ABC):
    """The store's policy over a back end's primitives (all called under ``locked()``)."""

    # What the back end raises when it cannot be reached (answered 503, never 500)
    outage_errors: tuple[type[BaseException], ...] = ()

    @abstractmethod
    def locked(self) -> AbstractContextManager[None]:
        """Exclusive access to the whole store, across processes and hosts."""

    @abstractmethod
    def load(self, job_id: str) -> JobRecord | None: ...

    @abstractmethod
    def save(self, record: JobRecord, result: dict[str, Any] | None = None) -> None:
        """Write a record (and its result, when given); a finished one expires at
        ``record.expires``."""

    @abstractmethod
    def delete(self, job_id: str) -> None: ...

    @abstractmethod
    def active(self) -> list[JobRecord]:
        """Every queued or running record."""

    @abstractmethod
    def load_result(self, job_id: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def served(self) -> dict[str, int]:
        """tenant -> number of the claim that last served it."""

    @abstractmethod
    def mark_served(self, tenant: str) -> None: ...

    @abstractmethod
    def purge_expired(self, now: float) -> None: ...

    @abstractmethod
    def result_ids(self) -> list[str]:
        """Ids of the jobs that hold a result (facereid/video/redaction.py)."""

    @abstractmethod
    def job_ids(self) -> list[str]:
        """Ids of every stored job, ended or not (a tenant erase)."""

    @abstractmethod
    def forget_tenant(self, tenant: str) -> None:
        """Drop what the store keeps about a tenant beside its jobs (its fairness turn)."""

    def scrub(self, expired_only: bool = False) -> None:
        """Make rewritten or deleted values unreadable on disk (a no-op where the back end
        keeps no old copies); ``expired_only``: only if expired jobs were purged."""
        return None

    @abstractmethod
    def close(self) -> None:
        """Release connections (tests open many stores)."""

    # -- policy ----------------------------------------------------------------------------

    def add(self, record: JobRecord, max_jobs: int, max_per_tenant: int) -> None:
        """Store a new queued job unless the store or its tenant is at its quota."""
        with self.locked():
            active = self.active()
            if len(active) >= max_jobs:
                raise TooManyJobsError(
                    f"{len(active)} video jobs are waiting or running; retry later"
                )
            own = sum(job.tenant == record.tenant for job in active)
            if own >= max_per_tenant:
                raise TooManyJobsError(
                    f"this key has {own} video jobs waiting or running "
                    f"(VIDEO_MAX_JOBS_PER_TENANT={max_per_tenant}); retry later"
                )
            self.save(record)

    def get(self, job_id: str) -> JobRecord | None:
        """The record, or None when unknown or expired."""
        record = self.load(job_id)
        if record is None or (record.expires is not None and record.expires < time.time()):
            return None
        return record

    def result(self, job_id: str) -> dict[str, Any] | None:
        return self.load_result(job_id) if self.get(job_id) is not None else None

    def claim(self, worker: str, lease_s: float) -> JobRecord | None:
        """The next queued job, now running under ``worker``'s lease; None when none waits."""
        with self.locked():
            record = pick_next(self.active(), self.served())
            if record is None:
                return None
            now = time.time()
            record.status, record.started, record.frames_done = RUNNING, now, 0
            record.worker, record.lease_until = worker, now + lease_s
            record.attempts += 1
            self.save(record)
            self.mark_served(record.tenant)
            return record

    def heartbeat(
        self, job_id: str, worker: str, lease_s: float, done: int, total: int | None
    ) -> Beat:
        """Renew the lease and store progress; says whether the job should go on."""
        with self.locked():
            record = self.load(job_id)
            if record is None or record.status != RUNNING or record.worker != worker:
                return "lost"
            record.frames_done, record.frames_total = done, total
            record.lease_until = time.time() + lease_s
            self.save(record)
            return "cancelled" if record.cancel_requested else "ok"

    def finish(
        self,
        job_id: str,
        worker: str,
        status: str,
        ttl_s: float,
        error: FaceReIDError | None = None,
        result: dict[str, Any] | None = None,
    ) -> bool:
        """End a job this worker still holds; False when its lease was lost meanwhile."""
        with self.locked():
            record = self.load(job_id)
            if record is None or record.status != RUNNING or record.worker != worker:
                return False
            if status == COMPLETED and record.frames_total is None:
                record.frames_total = record.frames_done
            record.end(status, time.time(), ttl_s, error)
            self.save(record, result)
            return True

    def release(self, job_id: str, worker: str, used_attempt: bool = False) -> None:
        """Hand a job this worker holds back to the queue: at shutdown (not an attempt used)
        or after a failure another attempt may not have (``used_attempt``)."""
        with self.locked():
            record = self.load(job_id)
            if record is None or record.status != RUNNING or record.worker != worker:
                return
            record.status, record.started, record.frames_done = QUEUED, None, 0
            record.worker, record.lease_until = None, None
            if not used_attempt:
                record.attempts = max(0, record.attempts - 1)
            self.save(record)

    def cancel(self, job_id: str, ttl_s: float) -> JobRecord | None:
        """A queued job ends at once; a running one is flagged for its worker's next beat."""
        with self.locked():
            record = self.get(job_id)
            if record is None:
                return None
            if record.status == QUEUED:
                cancelled = JobCancelledError("cancelled by the caller")
                record.end(CANCELLED, time.time(), ttl_s, cancelled)
                self.save(record)
            elif record.status == RUNNING:
                record.cancel_requested = True
                self.save(record)
            return record

    def reap(self, ttl_s: float, max_attempts: int) -> list[JobRecord]:
        """Jobs whose worker's lease ran out: queued again, or ended ``worker_lost``; returns
        the ended ones (their uploads can go)."""
        ended: list[JobRecord] = []
        with self.locked():
            now = time.time()
            self.purge_expired(now)
            for record in self.active():
                if record.status != RUNNING or (record.lease_until or 0.0) >= now:
                    continue
                retry = record.attempts < max_attempts and Path(record.upload).is_file()
                if record.cancel_requested:  # the caller wanted it stopped anyway
                    cancelled = JobCancelledError("cancelled by the caller")
                    record.end(CANCELLED, now, ttl_s, cancelled)
                    ended.append(record)
                elif retry:
                    record.status, record.started, record.frames_done = QUEUED, None, 0
                    record.worker, record.lease_until = None, None
                else:
                    lost = WorkerLostError(
                        f"the worker running this job stopped (attempt {record.attempts} "
                        f"of {max_attempts}); submit the video again"
                    )
                    record.end(FAILED, now, ttl_s, lost)
                    ended.append(record)
                self.save(record)
        self.scrub(expired_only=True)
        return ended

    def active_ids(self) -> set[str]:
        with self.locked():
            return {record.job_id for record in self.active()}


def pick_next(active: list[JobRecord], served: dict[str, int]) -> JobRecord | None:
    """Fair across tenants: the tenant with the fewest running jobs, then the one served
    longest ago (never served counts first); within a tenant, the oldest job."""
    queued = [job for job in active if job.status == QUEUED]
    if not queued:
        return None
    running: dict[str, int] = {}
    for job in active:
        if job.status == RUNNING:
            running[job.tenant] = running.get(job.tenant, 0) + 1
    tenant = min(
        {job.tenant for job in queued},
        key=lambda t: (running.get(t, 0), served.get(t, 0), t),
    )
    return min((job for job in queued if job.tenant == tenant), key=lambda j: j.created)


def iter_json(values: Iterator[Any]) -> Iterator[JobRecord]:
    for value in values:
        if value is not None:
            yield JobRecord.from_json(value)
