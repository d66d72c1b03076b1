"""``/video/submit``'s steps: take the upload, check its header and limits, store the job
for its tenant and wake this worker's claim loop. Kept out of ``service.py`` so the route is
one call."""

from __future__ import annotations

from pathlib import Path

import anyio

from facereid.config import Settings
from facereid.video import intake as video_mod
from facereid.video import jobs as jobs_mod
from facereid.video.scheduler import JobWorker
from facereid.video.store import JobRecord
from facereid.video.uploads import discard_upload


async def submit_video(
    jobs: jobs_mod.VideoJobs,
    worker: JobWorker,
    settings: Settings,
    tenant: str,
    video: Path,
    sample_fps: float | None,
    include_emotions: bool,
) -> JobRecord:
    """A queued job; raises the ``FaceReIDError`` of a bad upload (which is then removed)."""
    fps = jobs_mod.checked_sample_fps(sample_fps, settings.video_sample_fps)
    job_id = jobs.new_id()
    path = await anyio.to_thread.run_sync(jobs.take_upload, job_id, video, settings.video_max_bytes)
    try:
        limits = jobs_mod.video_limits(settings)
        info = await anyio.to_thread.run_sync(video_mod.probe_video, path, limits)
        total = video_mod.expected_samples(info, fps)
        job = await anyio.to_thread.run_sync(
            lambda: jobs.create(job_id, tenant, path, fps, include_emotions, total)
        )
    except BaseException:
        discard_upload(path)
        raise
    worker.wake()
    return job
