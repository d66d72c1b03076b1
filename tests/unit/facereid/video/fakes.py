"""Fakes at the model-service boundary for the production ``VideoJobRunner``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facereid.config import Settings
from facereid.faces.records import FaceRecord
from facereid.video import jobs as video_jobs
from facereid.video import pipeline

Faces = list[dict[str, Any]]


@dataclass
class FakeModels:
    """``detect_embed`` answers from ``faces_for(image)``; every call is recorded."""

    faces_for: Callable[[np.ndarray], Faces] = lambda image: []
    engine: str = "dlib"
    clip_up: bool = False
    images: list[np.ndarray] = field(default_factory=list)
    emotion_calls: list[list[pipeline.Box]] = field(default_factory=list)

    def calls(self) -> pipeline.ModelCalls:
        async def detect_embed(image: np.ndarray) -> list[FaceRecord]:
            self.images.append(image)
            await asyncio.sleep(0)  # a real call yields to the loop
            return [FaceRecord.from_wire(face) for face in self.faces_for(image)]

        async def emotions(
            image: np.ndarray, faces: list[pipeline.Box]
        ) -> list[dict[str, float] | None]:
            self.emotion_calls.append(faces)
            return [{"happy": 0.75, "sad": 0.25} for _ in faces]

        async def face_model() -> dict[str, Any]:
            return {"engine": self.engine, "embedding_model": f"{self.engine}/fake/128"}

        return pipeline.ModelCalls(detect_embed, emotions, face_model, lambda: self.clip_up)


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


def run_job(
    path: Path,
    models: FakeModels,
    settings: Settings | None = None,
    sample_fps: float = 2.0,
    include_emotions: bool = False,
    tenant: str = "t",
) -> video_jobs.VideoJob:
    """Submit one job to a fresh runner and wait for it to finish."""
    table = video_jobs.VideoJobs(60, 4)
    job = table.create(tenant, path, sample_fps, include_emotions)
    runner = pipeline.VideoJobRunner(settings or Settings(), models.calls())

    async def scenario() -> None:
        runner.submit(job)
        while job.task is None:  # started on the loop's next turn
            await asyncio.sleep(0)
        await job.task

    asyncio.run(scenario())
    return job
