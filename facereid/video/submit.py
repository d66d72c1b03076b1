"""``/video/submit``'s steps: take the upload, check its header and limits, register the job
and start it. Kept out of ``service.py`` so the route is one call."""

from __future__ import annotations

import asyncio
from pathlib import Path

import anyio

from facereid.config import Settings
from facereid.video import intake as video_mod
from facereid.video import jobs as jobs_mod
from facereid.video.pipeline import VideoJobRunner


async def submit_video(
    jobs: jobs_mod.VideoJobs,
    runner: VideoJobRunner,
    settings: Settings,
    video: Path,
    sample_fps: float | None,
    include_emotions: bool,
) -> jobs_mod.VideoJob:
    """A started job; raises the ``FaceReIDError`` of a bad upload (which is then removed)."""
    fps = jobs_mod.checked_sample_fps(sample_fps, settings.video_sample_fps)
    path = await anyio.to_thread.run_sync(jobs_mod.take_upload, video, settings.video_max_bytes)
    try:
        limits = jobs_mod.video_limits(settings)
        info = await anyio.to_thread.run_sync(video_mod.probe_video, path, limits)
        job = jobs.create(path, fps, include_emotions)
    except BaseException:
        jobs_mod.discard_upload(path)
        raise
    job.frames_total = video_mod.expected_samples(info, fps)
    job.task = asyncio.create_task(runner.run(job))
    return job
