"""``/video/submit``'s steps: take the upload, check its header and limits, register the job
for its tenant and hand it to the scheduler. Kept out of ``service.py`` so the route is one
call."""

from __future__ import annotations

from pathlib import Path

import anyio

from facereid.config import Settings
from facereid.video import intake as video_mod
from facereid.video import jobs as jobs_mod
from facereid.video.pipeline import VideoJobRunner
from facereid.video.uploads import discard_upload


async def submit_video(
    jobs: jobs_mod.VideoJobs,
    runner: VideoJobRunner,
    settings: Settings,
    tenant: str,
    video: Path,
    sample_fps: float | None,
    include_emotions: bool,
) -> jobs_mod.VideoJob:
    """A queued job; raises the ``FaceReIDError`` of a bad upload (which is then removed)."""
    fps = jobs_mod.checked_sample_fps(sample_fps, settings.video_sample_fps)
    path = await anyio.to_thread.run_sync(jobs.take_upload, video, settings.video_max_bytes)
    try:
        limits = jobs_mod.video_limits(settings)
        info = await anyio.to_thread.run_sync(video_mod.probe_video, path, limits)
        job = jobs.create(tenant, path, fps, include_emotions)
    except BaseException:
        discard_upload(path)
        raise
    job.frames_total = video_mod.expected_samples(info, fps)
    runner.submit(job)
    return job
