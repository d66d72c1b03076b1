"""``/video/submit``'s steps: take the upload, check its header and limits, store the job
for its tenant and wake this worker's claim loop. Kept out of ``service.py`` so the route is
one call."""

from __future__ import annotations

from pathlib import Path

import anyio

from facereid.config import Settings
from facereid.gallery import requests as gallery_requests
from facereid.video import intake as video_mod
from facereid.video import jobs as jobs_mod
from facereid.video.gallery_match import GalleryCheck
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
    gallery: str | None = None,
    check_gallery: GalleryCheck | None = None,
    include_attributes: bool = False,
) -> JobRecord:
    """A queued job; raises the ``FaceReIDError`` of a bad upload (which is then removed).
    A ``gallery`` must exist for the tenant now (404 ``gallery_not_found`` at once, not when
    the job ends)."""
    fps = jobs_mod.checked_sample_fps(sample_fps, settings.video_sample_fps)
    if gallery is not None:
        gallery = gallery_requests.gallery_name(gallery)
        if check_gallery is not None:
            await check_gallery(tenant, gallery)
    job_id = jobs.new_id()
    path = await anyio.to_thread.run_sync(jobs.take_upload, job_id, video, settings.video_max_bytes)
    try:
        limits = jobs_mod.video_limits(settings)
        info = await anyio.to_thread.run_sync(video_mod.probe_video, path, limits)
        total = video_mod.expected_samples(info, fps)
        job = await anyio.to_thread.run_sync(
            lambda: jobs.create(
                job_id, tenant, path, fps, include_emotions, total, gallery, include_attributes
            )
        )
    except BaseException:
        discard_upload(path)
        raise
    worker.wake()
    return job
