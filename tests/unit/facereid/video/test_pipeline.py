"""The production ``VideoJobRunner`` with fakes at the model-service boundary: progress,
completion, failure codes, cancel, frames larger than the header, the track bound."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from facereid.config import Settings
from facereid.video import intake
from facereid.video import jobs as video_jobs
from facereid.video.scheduler import JobWorker
from facereid.video.store import CANCELLED, COMPLETED, FAILED, FINISHED
from tests.unit.facereid.video.fakes import FakeModels, job_id_of, job_stack, run_job
from tests.video_builder import flat_frames, lying_mjpeg_mkv, write_video


def upload_of(path: Path) -> Path:
    """The job folder layout the service uses (the runner deletes the folder)."""
    folder = path.parent / f"job-{path.stem}"
    folder.mkdir()
    return path.rename(folder / "upload")


def one_face(image: np.ndarray) -> list[dict[str, Any]]:
    vector = np.zeros(128, np.float32)
    vector[0] = 1.0
    return [{"bbox": [10.0, 10.0, 60.0, 60.0], "score": 0.9, "embedding": vector}]


def test_a_job_completes_with_progress_and_deletes_its_upload(tmp_path: Path) -> None:
    upload = upload_of(write_video(tmp_path / "a.mp4", flat_frames(30)))  # 3 s
    models = FakeModels(one_face)
    job = run_job(upload, models, sample_fps=2.0)
    assert job.status == COMPLETED, job.error
    assert job.record.frames_done == job.record.frames_total == 6 == len(models.images)
    assert job.result is not None and job.result["num_identities"] == 1
    assert job.result["identities"][0]["face_count"] == 6
    assert video_jobs.status_payload(job.record)["progress"]["fraction"] == 1.0
    assert not upload.parent.exists()


def test_emotions_are_asked_for_the_best_face_when_clip_is_up(tmp_path: Path) -> None:
    upload = upload_of(write_video(tmp_path / "a.mp4", flat_frames(20)))
    models = FakeModels(one_face, clip_up=True)
    job = run_job(upload, models, include_emotions=True)
    assert job.result is not None
    assert len(models.emotion_calls) == 1 and len(models.emotion_calls[0]) == 1
    assert job.result["identities"][0]["dominant_emotion"] == "happy"


@pytest.mark.parametrize(("margin", "side"), [(0.1, 60), (0.25, 73)])
def test_emotion_crops_use_the_emotion_services_margin(
    tmp_path: Path, margin: float, side: int
) -> None:
    """fer announces 0.1, CLIP 0.25: the 50 px box grows to 60 px, or to 73 (clipped at 0)."""
    upload = upload_of(write_video(tmp_path / "a.mp4", flat_frames(20)))
    models = FakeModels(one_face, clip_up=True, crop_margin=margin)
    run_job(upload, models, include_emotions=True)
    [[crop]] = models.emotion_calls
    assert crop is not None and crop.shape[:2] == (side, side)


def test_attributes_are_asked_for_each_identity_best_face(tmp_path: Path) -> None:
    """include_attributes: the best face's frame goes to the face service once, encoded
    (PNG, lossless) with attributes, and its overlapping face's attributes are the
    identity's; without the flag nothing is asked and the key is absent."""
    upload = upload_of(write_video(tmp_path / "a.mp4", flat_frames(20)))
    models = FakeModels(one_face)
    job = run_job(upload, models, include_attributes=True)
    assert job.status == COMPLETED, job.error
    assert job.result is not None and job.result["num_identities"] == 1
    assert len(models.attribute_calls) == 1  # one identity, one best frame
    assert models.attribute_calls[0].shape == models.images[0].shape
    attributes = job.result["identities"][0]["attributes"]
    assert attributes["age"] == 41 and attributes["gender"] == "female"
    assert attributes["pose"] == {"pitch": 1.0, "yaw": -20.0, "roll": 2.0}
    plain = FakeModels(one_face)
    again = run_job(upload_of(write_video(tmp_path / "b.mp4", flat_frames(20))), plain)
    assert again.result is not None and "attributes" not in again.result["identities"][0]
    assert plain.attribute_calls == []


def test_frames_larger_than_the_header_fail_the_job(tmp_path: Path) -> None:
    upload = upload_of(lying_mjpeg_mkv(tmp_path / "lie.mkv", frames=5))
    models = FakeModels(one_face)
    job = run_job(upload, models, sample_fps=10.0)
    assert job.status == FAILED
    assert job.error is not None and job.error["code"] == "video_resolution_too_large"
    assert job.record.error_status == 413
    assert all(max(image.shape[:2]) <= 64 for image in models.images)  # no big frame sent


def test_too_many_tracks_fail_the_job_with_a_clear_code(tmp_path: Path) -> None:
    upload = upload_of(write_video(tmp_path / "a.mp4", flat_frames(30)))
    rng = np.random.default_rng(0)

    def a_new_face_everywhere(image: np.ndarray) -> list[dict[str, Any]]:
        faces = []
        for k in range(4):  # four faces far apart, each a stranger: new tracks every frame
            vector = rng.normal(size=128).astype(np.float32)
            x = 70.0 * k + float(rng.integers(0, 5))
            faces.append({"bbox": [x, 10.0, x + 40, 50.0], "score": 0.9, "embedding": vector / 10})
        return faces

    settings = Settings(video_max_tracks=10)
    job = run_job(upload, FakeModels(a_new_face_everywhere), settings, sample_fps=10.0)
    assert job.status == FAILED
    assert job.error is not None and job.error["code"] == "video_too_complex"
    assert "VIDEO_MAX_TRACKS" in job.error["message"]


def test_a_model_error_fails_the_job_with_its_code(tmp_path: Path) -> None:
    from facereid.errors import ModelTimeoutError

    upload = upload_of(write_video(tmp_path / "a.mp4", flat_frames(10)))

    def times_out(image: np.ndarray) -> list[dict[str, Any]]:
        raise ModelTimeoutError("the face model did not answer")

    job = run_job(upload, FakeModels(times_out))
    assert job.status == FAILED
    assert job.error == {"code": "timeout", "message": "the face model did not answer"}
    assert not upload.parent.exists()


def test_an_unexpected_error_is_an_internal_error_without_details(tmp_path: Path) -> None:
    upload = upload_of(write_video(tmp_path / "a.mp4", flat_frames(10)))

    def broken(image: np.ndarray) -> list[dict[str, Any]]:
        raise KeyError("secret internal detail")

    job = run_job(upload, FakeModels(broken))
    assert job.status == FAILED
    assert job.error is not None and job.error["code"] == "internal_error"
    assert "secret" not in job.error["message"]


def test_cancel_while_a_worker_thread_decodes_ends_cancelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelling during a frame read must not turn into a failure ("generator already
    executing" when the generator is closed under the worker thread), and the cancel comes
    from another thread, as a sync route would call it."""
    inside, release = threading.Event(), threading.Event()

    def blocking_frames(*args: Any, **kwargs: Any) -> Iterator[Any]:
        inside.set()
        release.wait(10)
        yield from ()

    monkeypatch.setattr(intake, "probe_video", lambda path, limits: object())
    monkeypatch.setattr(intake, "iter_sampled_frames", blocking_frames)
    (tmp_path / "a.mp4").write_bytes(b"x")
    upload = upload_of(tmp_path / "a.mp4")
    jobs, settings = job_stack(tmp_path / "state", uploads_root=tmp_path)
    job = jobs.create(job_id_of(upload), "t", upload, 2.0, include_emotions=False)
    runner = FakeModels().runner(settings)
    worker = JobWorker(jobs.store, jobs.uploads, settings, runner.run)

    async def scenario() -> None:
        worker.start()
        while not inside.is_set():
            await asyncio.sleep(0.01)
        await asyncio.to_thread(jobs.cancel, job.job_id, "t")  # as a route on any replica
        while jobs.get(job.job_id, "t").status not in FINISHED:  # the heartbeat read it
            await asyncio.sleep(0.01)
        release.set()
        await worker.stop()

    try:
        asyncio.run(scenario())
    finally:
        release.set()
    job = jobs.get(job.job_id, "t")
    assert job.status == CANCELLED
    assert job.error == {"code": "job_cancelled", "message": "cancelled by the caller"}
    assert not upload.exists()  # the upload is discarded whatever the outcome


def test_a_model_service_failure_is_retried_and_the_video_is_not_blamed(tmp_path: Path) -> None:
    from facereid.errors import ModelNotAvailableError

    upload = upload_of(write_video(tmp_path / "a.mp4", flat_frames(10)))
    calls = {"n": 0}

    def away_once(image: np.ndarray) -> list[dict[str, Any]]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ModelNotAvailableError("the face service is restarting")
        return one_face(image)

    job = run_job(upload, FakeModels(away_once))
    assert job.status == COMPLETED, job.error  # the second attempt ran from the start
    assert job.record.attempts == 2
    assert job.result is not None and job.result["num_identities"] == 1


def test_a_bad_video_is_not_retried(tmp_path: Path) -> None:
    upload = upload_of(lying_mjpeg_mkv(tmp_path / "lie.mkv", frames=5))
    job = run_job(upload, FakeModels(one_face), sample_fps=10.0)
    assert job.status == FAILED and job.record.attempts == 1
