"""The in-process table of video jobs: status, progress, result or error, expiry.

BentoML 1.4.40's ``@bentoml.task`` keeps every request body (the whole video) in SQLite
forever, cannot report progress, and its ``/cancel`` is refused by the local server, so video
jobs use this table instead (docs/video.md). It lives in the API worker (``workers=1``);
results are dropped ``ttl_s`` after the job ends.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from facereid.errors import (
    FaceReIDError,
    JobNotFinishedError,
    JobNotFoundError,
    TooManyJobsError,
)

QUEUED, RUNNING, COMPLETED = "queued", "running", "completed"
FAILED, CANCELLED = "failed", "cancelled"
FINISHED = (COMPLETED, FAILED, CANCELLED)


@dataclass
class VideoJob:
    job_id: str
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
    def __init__(self, ttl_s: float, max_jobs: int) -> None:
        self.ttl_s = ttl_s
        self.max_jobs = max_jobs
        self._jobs: dict[str, VideoJob] = {}

    def create(self, path: Path, sample_fps: float, include_emotions: bool) -> VideoJob:
        self.expire()
        active = sum(job.status not in FINISHED for job in self._jobs.values())
        if active >= self.max_jobs:
            raise TooManyJobsError(f"{active} video jobs are waiting or running; retry later")
        job = VideoJob(uuid.uuid4().hex, path, sample_fps, include_emotions)
        self._jobs[job.job_id] = job
        return job

    def get(self, job_id: str) -> VideoJob:
        self.expire()
        job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFoundError(f"no video job {job_id!r} (unknown or expired)")
        return job

    def result(self, job_id: str) -> VideoJob:
        job = self.get(job_id)
        if job.status not in FINISHED:
            raise JobNotFinishedError(f"job {job_id} is {job.status}; poll /video/status")
        return job

    def cancel(self, job_id: str) -> VideoJob:
        job = self.get(job_id)
        if job.status not in FINISHED:
            job.cancel_requested = True
            if job.task is not None:  # stops at its next await: no more frames are sent
                job.task.cancel()
        return job

    def expire(self) -> None:
        now = time.time()
        for job_id, job in list(self._jobs.items()):
            if job.finished is not None and now - job.finished > self.ttl_s:
                del self._jobs[job_id]


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
    )


def checked_sample_fps(sample_fps: float | None, default: float) -> float:
    from facereid.errors import InvalidInputError

    fps = default if sample_fps is None else float(sample_fps)
    if not 0.05 <= fps <= 30.0:
        raise InvalidInputError(f"sample_fps must be between 0.05 and 30, got {fps:g}")
    return fps


def take_upload(upload: Path, max_bytes: int) -> Path:
    """Move the upload out of BentoML's per-request temp folder, which is emptied when the
    submit request ends, into a folder of its own that the job deletes when it is done."""
    import shutil
    import tempfile

    from facereid.errors import VideoTooLargeError

    size = upload.stat().st_size
    if size > max_bytes:
        upload.unlink(missing_ok=True)
        raise VideoTooLargeError(f"video is {size} bytes; the limit is {max_bytes}")
    folder = Path(tempfile.mkdtemp(prefix="facereid-video-"))
    target = folder / ("upload" + "".join(upload.suffixes[-1:])[:10])
    shutil.move(str(upload), target)
    return target


def discard_upload(path: Path) -> None:
    import shutil

    shutil.rmtree(path.parent, ignore_errors=True)
