"""Fakes at the model-service boundary for the production ``VideoJobRunner``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facereid.config import Settings
from facereid.faces.attributes import FaceAttributes, Pose
from facereid.faces.records import FaceRecord
from facereid.intake.budget import ImageHeader
from facereid.video import pipeline
from facereid.video.gallery_match import GalleryLookup
from facereid.video.jobs import VideoJobs
from facereid.video.scheduler import JobWorker
from facereid.video.store import FINISHED, JobRecord
from facereid.video.store_sqlite import SQLiteJobStore
from facereid.video.uploads import UploadArea
from facereid.wire.emotion import ClipStatus
from facereid.wire.faces import Crop, Emotions, FaceModelInfo, FacesAnswer, FaceWire
from tests.unit.facereid.analysis.fakes import model_info

Faces = list[dict[str, Any]]
ATTRIBUTES = FaceAttributes("fake/attributes", 41, "female", 0.9, Pose(1.0, -20.0, 2.0))


@dataclass
class FakeModels:
    """Both typed clients (``FaceClient`` and ``EmotionClient``): ``detect_embed`` answers
    from ``faces_for(image)``; every call is recorded."""

    faces_for: Callable[[np.ndarray], Faces] = lambda image: []
    engine: str = "dlib"
    clip_up: bool = False
    crop_margin: float = 0.25  # what the emotion service's health says (fer: 0.1)
    images: list[np.ndarray] = field(default_factory=list)
    emotion_calls: list[list[Crop]] = field(default_factory=list)
    gallery_lookup: GalleryLookup | None = None
    attribute_calls: list[np.ndarray] = field(default_factory=list)

    async def model_info(self) -> FaceModelInfo:
        return model_info(self.engine, "fake", 128)

    async def analyze_encoded(
        self,
        header: ImageHeader,
        crops: int,
        attributes: bool = False,
        crop_margin: float | None = None,
    ) -> FacesAnswer:
        """Only a video job with ``include_attributes`` sends an encoded frame (its best
        faces'); each face found there answers ``ATTRIBUTES``."""
        assert attributes, "video frames are sent decoded; encoded only for attributes"
        image = cv2.imdecode(np.frombuffer(header.raw, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.shape[:2] == (header.height, header.width)
        self.attribute_calls.append(image)
        faces = [FaceWire.model_validate(face).record() for face in self.faces_for(image)]
        return FacesAnswer([replace(f, attributes=ATTRIBUTES) for f in faces], [])

    async def detect_embed(self, image: np.ndarray) -> list[FaceRecord]:
        self.images.append(image)
        await asyncio.sleep(0)  # a real call yields to the loop
        return [FaceWire.model_validate(face).record() for face in self.faces_for(image)]

    def available(self) -> bool:
        return self.clip_up

    def status(self) -> ClipStatus | None:
        if not self.clip_up:
            return None
        return ClipStatus(available=True, engine="clip", crop_margin=self.crop_margin)

    async def score_crops(self, crops: list[Crop], labels: list[str] | None) -> list[Emotions]:
        self.emotion_calls.append(crops)
        return [{"happy": 0.75, "sad": 0.25} for _ in crops]

    def runner(self, settings: Settings) -> pipeline.VideoJobRunner:
        return pipeline.VideoJobRunner(settings, self, self, self.gallery_lookup)


def engine_faces(engine: Any) -> Callable[[np.ndarray], Faces]:
    """A real in-process engine answering as the face service's ``detect_embed`` does."""

    def faces_for(image: np.ndarray) -> Faces:
        faces = engine.detect([image])[0]
        rows = engine.embed([image] * len(faces), faces) if faces else []
        return [
            {"bbox": f.bbox.tolist(), "score": f.score, "embedding": rows[i]}
            for i, f in enumerate(faces)
        ]

    return faces_for


@dataclass
class FinishedJob:
    """A job's stored record and result once it ended."""

    record: JobRecord
    result: dict[str, Any] | None

    @property
    def status(self) -> str:
        return self.record.status

    @property
    def error(self) -> dict[str, str] | None:
        return self.record.error


def job_stack(
    root: Path, settings: Settings | None = None, uploads_root: Path | None = None
) -> tuple[VideoJobs, Settings]:
    """A job table on a SQLite store under ``root``, with quick heartbeats and polls;
    uploads under ``uploads_root`` (default ``root/video-uploads``)."""
    fast = {"video_job_heartbeat_s": 0.05, "video_job_poll_s": 0.05, "data_dir": str(root)}
    settings = (settings or Settings()).model_copy(update=fast)
    store = SQLiteJobStore(root / "jobs.sqlite3")
    uploads = UploadArea(uploads_root or root / "video-uploads")
    limits = (settings.video_max_jobs, settings.video_max_jobs_per_tenant)
    return VideoJobs(store, uploads, 60, *limits), settings


def job_id_of(upload: Path) -> str:
    """The job id whose upload folder (``job-<id>/upload``) holds ``upload``."""
    return upload.parent.name.removeprefix("job-")


def run_job(
    path: Path,
    models: FakeModels,
    settings: Settings | None = None,
    sample_fps: float = 2.0,
    include_emotions: bool = False,
    tenant: str = "t",
    gallery: str | None = None,
    include_attributes: bool = False,
) -> FinishedJob:
    """Store one job, run it with a real ``JobWorker`` and wait until it ended."""
    jobs, settings = job_stack(path.parent.parent / "state", settings, path.parent.parent)
    job_id = job_id_of(path)
    if path != jobs.uploads.path_of(job_id):  # not in the job folder layout: moved there
        job_id = jobs.new_id()
        path = jobs.take_upload(job_id, path, 1 << 40)
    record = jobs.create(
        job_id,
        tenant,
        path,
        sample_fps,
        include_emotions,
        gallery=gallery,
        include_attributes=include_attributes,
    )
    runner = models.runner(settings)
    worker = JobWorker(jobs.store, jobs.uploads, settings, runner.run)

    async def scenario() -> None:
        worker.start()
        while jobs.get(record.job_id, tenant).status not in FINISHED:
            await asyncio.sleep(0.01)
        await worker.stop()

    asyncio.run(scenario())
    done, result = jobs.result(record.job_id, tenant)
    jobs.store.close()
    return FinishedJob(done, result)
