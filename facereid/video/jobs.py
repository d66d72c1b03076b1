"""Video jobs as callers see them: owned by a tenant, kept in the durable store.

BentoML 1.4.40's ``@bentoml.task`` keeps every request body (the whole video) in SQLite
forever, cannot report progress, and its ``/cancel`` is refused by the local server, so video
jobs use our own store instead (``facereid.video.store``, docs/video.md). Nothing lives in
one process: any API worker or replica answers for any job, and a restart loses none.

Every job belongs to a tenant: another tenant's job is answered exactly like an unknown or
expired one (404 ``job_not_found``), so job ids cannot be probed across tenants.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from facereid.errors import JobNotFinishedError, JobNotFoundError
from facereid.video.store import (
    CANCELLED,
    COMPLETED,
    FINISHED,
    JobRecord,
    JobStore,
    JobStoreUnavailableError,
)
from facereid.video.uploads import UploadArea, discard_upload

logger = logging.getLogger(__name__)

_MAX_ID_CHARS = 64


class VideoJobs:
    def __init__(
        self,
        store: JobStore,
        uploads: UploadArea,
        ttl_s: float,
        max_jobs: int,
        max_jobs_per_tenant: int | None = None,
    ) -> None:
        self.store = store
        self.uploads = uploads
        self.ttl_s = ttl_s
        self.max_jobs = max_jobs
        self.max_jobs_per_tenant = max_jobs_per_tenant or max_jobs

    @classmethod
    def from_settings(cls, settings: Any) -> VideoJobs:
        from facereid.video.store_open import open_store

        return cls(
            open_store(settings),
            UploadArea(Path(settings.data_dir).resolve() / "video-uploads"),
            settings.video_result_ttl_s,
            settings.video_max_jobs,
            settings.video_max_jobs_per_tenant,
        )

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    def take_upload(self, job_id: str, upload: Path, max_bytes: int) -> Path:
        """Move a request's upload into its job's folder, under a fixed name."""
        return self.uploads.take(upload, max_bytes, job_id)

    @contextmanager
    def _store_up(self) -> Iterator[None]:
        try:
            yield
        except self.store.outage_errors as exc:
            logger.warning("video job store unavailable: %s", type(exc).__name__)
            raise JobStoreUnavailableError(
                "the video job store is unavailable; retry later"
            ) from None

    def create(
        self,
        job_id: str,
        tenant: str,
        path: Path,
        sample_fps: float,
        include_emotions: bool,
        frames_total: int | None = None,
        gallery: str | None = None,
        include_attributes: bool = False,
    ) -> JobRecord:
        record = JobRecord(
            job_id,
            tenant,
            str(path),
            sample_fps,
            include_emotions,
            frames_total=frames_total,
            gallery=gallery,
            include_attributes=include_attributes,
        )
        with self._store_up():
            self.store.add(record, self.max_jobs, self.max_jobs_per_tenant)
        return record

    def get(self, job_id: str, tenant: str) -> JobRecord:
        with self._store_up():
            record = self.store.get(job_id) if len(job_id) <= _MAX_ID_CHARS else None
        if record is None or record.tenant != tenant:  # another tenant's job does not exist
            raise JobNotFoundError(f"no video job {shown(job_id)} (unknown or expired)")
        return record

    def result(self, job_id: str, tenant: str) -> tuple[JobRecord, dict[str, Any] | None]:
        record = self.get(job_id, tenant)
        if record.status not in FINISHED:
            raise JobNotFinishedError(f"job {record.job_id} is {record.status}; poll /video/status")
        with self._store_up():
            result = self.store.result(job_id) if record.status == COMPLETED else None
        return record, result

    def cancel(self, job_id: str, tenant: str) -> JobRecord:
        """A queued job ends at once; a running one stops at its worker's next heartbeat,
        wherever that worker runs."""
        self.get(job_id, tenant)
        with self._store_up():
            record = self.store.cancel(job_id, self.ttl_s)
        if record is None:
            raise JobNotFoundError(f"no video job {shown(job_id)} (unknown or expired)")
        if record.status == CANCELLED:
            discard_upload(Path(record.upload))
        return record


def status_payload(job: JobRecord) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "job_id": job.job_id,
        "status": job.status,
        "progress": {
            "frames_done": job.frames_done,
            "frames_total": job.frames_total,
            "fraction": _fraction(job.frames_done, job.frames_total, job.status),
        },
        "created_at": _iso(job.created),
        "started_at": _iso(job.started),
        "finished_at": _iso(job.finished),
        "expires_at": _iso(job.expires),
    }
    if job.error is not None:
        payload["error"] = job.error
    return payload


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
