"""Runs one video job: sampled frames through the batched face model, tracking, identities,
and optionally CLIP emotions and the attributes (age, gender, pose) of each identity's best
face.

The model services come in as the typed clients of ``facereid.wire.clients`` (the API
service passes its BentoML-backed ones), so this module has no bentoml import and a test
hands in fakes of the same protocols.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import cv2
import numpy as np

from facereid.analysis.responses import attributes_payload
from facereid.config import Settings
from facereid.emotion.crops import face_crops
from facereid.errors import (
    FaceReIDError,
    JobCancelledError,
    ModelNotAvailableError,
    ModelOverloadedError,
    ModelTimeoutError,
)
from facereid.faces.records import Box, FaceRecord
from facereid.intake.budget import ImageHeader
from facereid.video import intake as video_mod
from facereid.video import jobs as jobs_mod
from facereid.video.gallery_match import GalleryLookup, name_identities
from facereid.video.identities import VideoReID, identity_threshold, video_result
from facereid.video.store import CANCELLED, COMPLETED, FAILED, JobRecord
from facereid.video.tracking import FaceObservation, iou
from facereid.wire.clients import EmotionClient, FaceClient

logger = logging.getLogger(__name__)

Faces = list[FaceRecord]
Frames = dict[int, tuple[np.ndarray, float]]  # sampled frame index -> (image, scale)
# Failures of the model services (down, busy, slow; also while a server shuts down): another
# attempt may succeed where the video itself is not at fault.
_MODEL_TROUBLE = (ModelNotAvailableError, ModelOverloadedError, ModelTimeoutError)


@dataclass
class RunState:
    """What the worker's heartbeat writes to the store, and why it stopped the job."""

    frames_done: int = 0
    frames_total: int | None = None
    stop: str | None = None  # "cancelled" (by the caller), "lost" (lease), "shutdown"


@dataclass
class JobOutcome:
    status: str
    result: dict[str, Any] | None = None
    error: FaceReIDError | None = None
    retryable: bool = False  # the failure is ours (a model service away), not the video's


class VideoJobRunner:
    """Runs one claimed job to its outcome; ``facereid.video.scheduler`` decides which and
    when, and writes the outcome to the store."""

    def __init__(
        self,
        settings: Settings,
        faces: FaceClient,
        emotions: EmotionClient,
        gallery_lookup: GalleryLookup | None = None,
    ) -> None:
        self.settings = settings
        self.faces = faces
        self.emotions = emotions
        # Searches a gallery for the identities of jobs submitted with one (None: no gallery)
        self.gallery_lookup = gallery_lookup

    async def run(self, job: JobRecord, progress: RunState) -> JobOutcome:
        """Every outcome but a lost lease or a shutdown (which re-raise the cancellation:
        the job is not ours to end) becomes a ``JobOutcome``."""
        try:
            if job.cancel_requested:
                raise JobCancelledError("cancelled before it started")
            return JobOutcome(COMPLETED, await self._process(job, progress))
        except (asyncio.CancelledError, JobCancelledError):
            if progress.stop in ("lost", "shutdown"):
                raise
            return JobOutcome(CANCELLED, error=JobCancelledError("cancelled by the caller"))
        except FaceReIDError as exc:
            return JobOutcome(FAILED, error=exc, retryable=isinstance(exc, _MODEL_TROUBLE))
        except Exception:
            logger.exception("video job %s failed", job.job_id)
            internal = FaceReIDError("internal error; see the server log")
            return JobOutcome(FAILED, error=internal, retryable=True)

    async def _process(self, job: JobRecord, progress: RunState) -> dict[str, Any]:
        path = Path(job.upload)
        model = await self.faces.model_info()
        limits = jobs_mod.video_limits(self.settings)
        info = await anyio.to_thread.run_sync(video_mod.probe_video, path, limits)
        threshold = identity_threshold(model.engine, self.settings.video_identity_threshold)
        reid = VideoReID(
            job.sample_fps,
            threshold,
            self.settings.video_track_lost_s,
            max_tracks=self.settings.video_max_tracks,
        )
        report = video_mod.DecodeReport()
        frames = video_mod.iter_sampled_frames(path, info, limits, job.sample_fps, report)
        try:
            while chunk := await anyio.to_thread.run_sync(
                _next_frames, frames, self.settings.video_chunk_frames
            ):
                # Concurrent calls: the face service batches these frames together.
                faces = await asyncio.gather(*(self.faces.detect_embed(f.image) for f in chunk))
                for frame, found in zip(chunk, faces, strict=True):
                    reid.add_frame(frame, found)
                progress.frames_done = reid.frames_done
                if progress.stop is not None:
                    raise JobCancelledError("cancelled by the caller")
        finally:
            _close_frames(frames)
        progress.frames_total = reid.frames_done
        # Merging is quadratic in tracks: a worker thread, so the event loop keeps answering.
        await anyio.to_thread.run_sync(reid.identities)
        emotions = None
        wants_emotions = job.include_emotions and self.emotions.available()
        # the best faces' frames, decoded again once for both (not at all for neither)
        needed = wants_emotions or job.include_attributes
        best = await self._best_frames(job, info, limits, reid, needed)
        if wants_emotions:
            emotions = await self._emotions(*best)
        embedding_model = model.embedding_model
        result = video_result(reid, info, report, embedding_model, job.sample_fps, emotions)
        if job.include_attributes:
            best_attributes = await self._attributes(*best)
            for number, identity in enumerate(result["identities"]):
                identity["attributes"] = attributes_payload(best_attributes.get(number))
        if job.gallery is not None:
            identities = reid.identities()
            rows = (
                np.stack([i.embedding() for i in identities]).astype(np.float32)
                if identities
                else np.zeros((0, 0), np.float32)
            )
            result.update(
                await name_identities(
                    self.gallery_lookup,
                    job.tenant,
                    job.gallery,
                    embedding_model,
                    rows,
                    result["identities"],
                )
            )
        return result

    async def _best_frames(
        self,
        job: JobRecord,
        info: video_mod.VideoInfo,
        limits: video_mod.VideoLimits,
        reid: VideoReID,
        needed: bool,
    ) -> tuple[list[FaceObservation], Frames]:
        """Each identity's best-quality face (in ``result()`` order) and, decoded again
        where ``needed``, the frames they are in."""
        best = reid.best_observations()
        if not needed:
            return best, {}
        wanted = {obs.frame_index for obs in best}
        images = await anyio.to_thread.run_sync(
            _frames_at, Path(job.upload), info, limits, job.sample_fps, wanted
        )
        return best, images

    async def _emotions(self, best: list[FaceObservation], images: Frames) -> dict[int, Any]:
        """CLIP emotions of each identity's best-quality face (``_best_frames``)."""
        emotions: dict[int, Any] = {}
        engine = self.emotions.status()  # fer wants tighter crops than CLIP
        margin = self.settings.emotion_crop_margin
        if engine is not None and engine.crop_margin is not None:
            margin = engine.crop_margin
        for frame_index, (image, scale) in images.items():
            numbers = [n for n, obs in enumerate(best) if obs.frame_index == frame_index]
            boxes = [_box(best[n].bbox, 1 / scale) for n in numbers]
            crops = face_crops(image, boxes, margin)
            scores = await self.emotions.score_crops(crops, None)  # one CLIP call per frame
            emotions.update(zip(numbers, scores, strict=True))
        return emotions

    async def _attributes(self, best: list[FaceObservation], images: Frames) -> dict[int, Any]:
        """Age, gender and pose of each identity's best-quality face (``_best_frames``): its
        frame goes to the face service as a PNG with ``attributes``, like /analyze's; the
        face there that overlaps the identity's box most is the identity's."""
        found: dict[int, Any] = {}
        for frame_index, (image, scale) in images.items():
            header = await anyio.to_thread.run_sync(_png_header, image)
            answer = await self.faces.analyze_encoded(header, 0, attributes=True)
            for number, obs in enumerate(best):
                if obs.frame_index != frame_index or not answer.faces:
                    continue
                box = _box(obs.bbox, 1 / scale)
                face = max(answer.faces, key=lambda f: iou(f.bbox, box))
                if iou(face.bbox, box) >= 0.5:
                    found[number] = face.attributes
        return found


def _png_header(image: np.ndarray) -> ImageHeader:
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise FaceReIDError("could not encode a video frame")
    height, width = image.shape[:2]
    return ImageHeader(data.tobytes(), width, height, "PNG", width * height)


def _box(bbox: np.ndarray, factor: float) -> Box:
    x1, y1, x2, y2 = (float(v) * factor for v in bbox)
    return (x1, y1, x2, y2)


def _close_frames(frames: Generator[video_mod.SampledFrame, None, None]) -> None:
    try:
        frames.close()
    except ValueError:
        # "generator already executing": the job was cancelled while a worker thread was
        # inside it decoding the next chunk. That thread finishes its read and the generator
        # (with its container) is closed when collected; the cancellation must not turn into
        # a failure here.
        logger.debug("frame generator still busy in its worker thread; left to the collector")


def _next_frames(frames: Generator[video_mod.SampledFrame, None, None], count: int) -> list[Any]:
    return list(itertools.islice(frames, count))


def _frames_at(
    path: Path,
    info: video_mod.VideoInfo,
    limits: video_mod.VideoLimits,
    sample_fps: float,
    wanted: set[int],
) -> dict[int, tuple[np.ndarray, float]]:
    found: dict[int, tuple[np.ndarray, float]] = {}
    frames = video_mod.iter_sampled_frames(path, info, limits, sample_fps)
    try:
        for frame in frames:
            if frame.index in wanted:
                found[frame.index] = (frame.image, frame.scale)
            if len(found) == len(wanted):
                break
    finally:
        frames.close()
    return found
