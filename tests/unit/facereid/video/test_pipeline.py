"""The video job runner with plain functions for the model calls."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from facereid.config import Settings
from facereid.faces.records import FaceRecord
from facereid.video import jobs as video_jobs
from facereid.video import pipeline


def calls(detected: list[np.ndarray]) -> pipeline.ModelCalls:
    async def detect_embed(image: np.ndarray) -> list[FaceRecord]:
        detected.append(image)
        return []

    async def emotions(
        image: np.ndarray, faces: list[pipeline.Box]
    ) -> list[dict[str, float] | None]:
        return [None] * len(faces)

    async def face_model() -> dict[str, Any]:
        return {"engine": "dlib", "embedding_model": "dlib/x/128"}

    return pipeline.ModelCalls(detect_embed, emotions, face_model, lambda: False)


def test_cancel_while_a_worker_thread_decodes_ends_cancelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelling during a frame read must not turn into a failure ("generator already
    executing" when the generator is closed under the worker thread)."""
    inside, release = threading.Event(), threading.Event()

    def blocking_frames(*args: Any, **kwargs: Any) -> Iterator[Any]:
        inside.set()
        release.wait(10)
        yield from ()

    monkeypatch.setattr(pipeline.video_mod, "probe_video", lambda path, limits: object())
    monkeypatch.setattr(pipeline.video_mod, "iter_sampled_frames", blocking_frames)
    upload = tmp_path / "upload.mp4"
    upload.write_bytes(b"x")
    job = video_jobs.VideoJobs(60, 4).create(upload, 2.0, include_emotions=False)
    runner = pipeline.VideoJobRunner(Settings(), calls([]))

    async def scenario() -> None:
        job.task = asyncio.create_task(runner.run(job))
        while not inside.is_set():
            await asyncio.sleep(0.01)
        job.cancel_requested = True
        job.task.cancel()
        await asyncio.wait_for(asyncio.shield(job.task), timeout=10)

    try:
        asyncio.run(scenario())
    finally:
        release.set()
    assert job.status == video_jobs.CANCELLED
    assert job.error == {"code": "job_cancelled", "message": "cancelled by the caller"}
    assert not upload.exists()  # the upload is discarded whatever the outcome
