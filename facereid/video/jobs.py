"""The in-process table of video jobs: owner, status, progress, result or error, expiry.

BentoML 1.4.40's ``@bentoml.task`` keeps every request body (the whole video) in SQLite
forever, cannot report progress, and its ``/cancel`` is refused by the local server, so video
jobs use this table instead (docs/video.md). It lives in the API worker (``workers=1``);
results are dropped ``ttl_s`` after the job ends.

Every job belongs to a tenant: another tenant's job is answered exactly like an unknown one
(404 ``job_not_found``), so job ids cannot be probed across tenants. The table is guarded by
a lock because routes may run in BentoML's worker threads while jobs finish on the event loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from facereid.errors import (
    FaceReIDError,
    JobCancelledError,
    JobNotFinishedError,
    JobNotFoundError,
    TooManyJobsError,
)
from facereid.video.uploads import UploadArea, discard_upload

QUEUED, RUNNING, COMPLETED = "queued", "running", "completed"
FAILED, CANCELLED = "failed", "cancelled"
FINISHED = (COMPLETED, FAILED, CANCELLED)


@dataclass
class VideoJob:
    job_id: str
    tenant: str
    path: Path
    sample_fps: float
    include_emotions: bool
    status: str = QUEUED
    frames_done: int = 0
    frames_total: int | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    result: dict[str, Any] | None = None
    error: dict[str, str] | None = None
    error_status: int = 500
    cancel_requested: bool = False
    task: asyncio.Task[None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def claim(self) -> bool:
        """Queued -> running, unless it was cancelled meanwhile."""
        with self.lock:
            if self.status != QUEUED:
                return False
            self.status, self.started = RUNNING, time.time()
            return True

    def status_payload(self, ttl_s: float) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "job_id": self.job_id,
            "status": self.status,
            "progress": {
                "frames_done": self.frames_done,
                "frames_total": self.frames_total,
                "fraction": _fraction(self.frames_done, self.frames_total, self.status),
            },
            "created_at": _iso(self.created),
            "started_at": _iso(self.started),
            "finished_at": _iso(self.finished),
            "expires_at": _iso(self.finished + ttl_s) if self.finished is not None else None,
        }
        if self.error is not None:
            payload["error"] = self.error
        return payload

    def finish(self, status: str, error: FaceReIDError | None = None) -> None:
        self.status = status
        self.finished = time.time()
        if error is not None:
            self.error = {"code": error.code, "message": error.message}
            self.error_status = error.status


class VideoJobs:
    def __init__(
        self,
        ttl_s: float,
        max_jobs: int,
        max_jobs_per_tenant: int | None = None,
        uploads: UploadArea | None = None,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_jobs = max_jobs
        self.max_jobs_per_tenant = max_jobs_per_tenant or max_jobs
        self.uploads = uploads
        self._jobs: dict[str, VideoJob] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any) -> VideoJobs:
        """The service's table; its upload folder is swept of dead processes' files now."""
        uploads = UploadArea(Path(settings.data_dir) / "video-uploads")
        return cls(
            settings.video_result_ttl_s,
            settings.video_max_jobs,
            settings.video_max_jobs_per_tenant,
            uploads,
        )

    def take_upload(self, upload: Path, max_bytes: int) -> Path:
        """Move a request's upload into the service's own folder, under a fixed name."""
        if self.uploads is None:
            raise RuntimeError("this job table has no upload folder")
        return self.uploads.take(upload, max_bytes)

    def create(
        self, tenant: str, path: Path, sample_fps: float, include_emotions: bool
    ) -> VideoJob:
        with self._lock:
            self._expire()
            active = [job for job in self._jobs.values() if job.status not in FINISHED]
            if len(active) >= self.max_jobs:
                raise TooManyJobsError(
                    f"{len(active)} video jobs are waiting or running; retry later"
                )
            own = sum(job.tenant == tenant for job in active)
            if own >= self.max_jobs_per_tenant:
                raise TooManyJobsError(
                    f"this key has {own} video jobs waiting or running "
                    f"(VIDEO_MAX_JOBS_PER_TENANT={self.max_jobs_per_tenant}); retry later"
                )
            job = VideoJob(uuid.uuid4().hex, tenant, path, sample_fps, include_emotions)
            self._jobs[job.job_id] = job
            return job

    def get(self, job_id: str, tenant: str) -> VideoJob:
        with self._lock:
            self._expire()
            job = self._jobs.get(job_id)
        if job is None or job.tenant != tenant:  # another tenant's job does not exist for you
            raise JobNotFoundError(f"no video job {shown(job_id)} (unknown or expired)")
        return job

    def result(self, job_id: str, tenant: str) -> VideoJob:
        job = self.get(job_id, tenant)
        if job.status not in FINISHED:
            raise JobNotFinishedError(f"job {job.job_id} is {job.status}; poll /video/status")
        return job

    def cancel(self, job_id: str, tenant: str) -> VideoJob:
        """A queued job ends at once; a running one stops before its next batch of frames."""
        job = self.get(job_id, tenant)
        with job.lock:
            if job.status == QUEUED:
                job.finish(CANCELLED, JobCancelledError("cancelled by the caller"))
                discard_upload(job.path)
            elif job.status not in FINISHED:
                job.cancel_requested = True
                if job.task is not None:
                    cancel_task(job.task)
        return job

    def expire(self) -> None:
        with self._lock:
            self._expire()

    def _expire(self) -> None:
        now = time.time()
        stale = [
            job_id
            for job_id, job in self._jobs.items()
            if job.finished is not None and now - job.finished > self.ttl_s
        ]
        for job_id in stale:
            del self._jobs[job_id]


def cancel_task(task: asyncio.Task[Any]) -> None:
    """``Task.cancel`` is not thread-safe: from another thread it goes through the loop."""
    loop = task.get_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        task.cancel()
    else:
        loop.call_soon_threadsafe(task.cancel)


def shown(text: str, limit: int = 40) -> str:
    """Client input echoed in a message: quoted, and cut to ``limit`` characters."""
    cut = text if len(text) <= limit else text[:limit] + "..."
    return repr(cut)


def _fraction(done: int, total: int | None, status: str) -> float | None:
    if status == COMPLETED:
        return 1.0
    if not total:
        return None
    return round(min(1.0, done / total), 4)


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return datetime.fromtimestamp(stamp, UTC).isoformat().replace("+00:00", "Z")


def video_limits(settings: Any) -> Any:
    from facereid.video.intake import VideoLimits

    return VideoLimits(
        max_bytes=settings.video_max_bytes,
        max_seconds=settings.video_max_seconds,
        max_side=settings.video_max_side,
        process_side=settings.video_process_side,
        max_frames=settings.video_max_frames,
        max_decode_s=settings.video_max_decode_s,
    )


def checked_sample_fps(sample_fps: float | None, default: float) -> float:
    from facereid.errors import InvalidInputError

    fps = default if sample_fps is None else float(sample_fps)
    if not 0.05 <= fps <= 30.0:
        raise InvalidInputError(f"sample_fps must be between 0.05 and 30, got {fps:g}")
    return fps
