"""Who is in a video: tracks merged into identities by embedding similarity.

Tracks (facereid.video.tracking) hold one person while they stay in view. A person who leaves,
is hidden, or comes back after a cut starts a new track; tracks are then merged greedily,
most similar pair first (cosine of the tracks' L2-normalised mean embeddings, average
linkage), while the best pair is above the embedding model's threshold. Two tracks seen in
the same frame are never merged: they are two people.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facereid.faces.records import FaceRecord, FloatArray, xyxy_to_xywh
from facereid.video.intake import DecodeReport, SampledFrame, VideoInfo, VideoLimits
from facereid.video.tracking import (
    FaceObservation,
    FaceTracker,
    Track,
    split_on_appearance,
    unit_mean,
)

logger = logging.getLogger(__name__)

# Same-person cosine similarity on L2-normalised embeddings. dlib: measured on the shared
# photos, same-person pairs >= 0.93, different-person pairs <= 0.89. InsightFace ArcFace:
# the usual verification threshold on buffalo_l.
DEFAULT_THRESHOLDS = {"dlib": 0.91, "insightface": 0.45}


def identity_threshold(engine: str, override: float | None = None) -> float:
    if override is not None:
        return override
    return DEFAULT_THRESHOLDS.get(engine, DEFAULT_THRESHOLDS["insightface"])


@dataclass
class Identity:
    tracks: list[Track]

    @property
    def observations(self) -> list[FaceObservation]:
        return sorted((o for t in self.tracks for o in t.observations), key=lambda o: o.time_s)

    @property
    def frames(self) -> set[int]:
        return set().union(*(t.frames for t in self.tracks))

    def embedding(self) -> FloatArray:
        return unit_mean([o.embedding for o in self.observations])


def merge_tracks(tracks: Sequence[Track], threshold: float) -> list[Identity]:
    """Greedy average-linkage merging above ``threshold`` with a cannot-link for tracks
    that share a frame. Identities are ordered by first appearance.

    Cluster similarity is the mean of the pairwise track similarities, kept as block sums
    so that each merge costs O(n) numpy work (n = number of tracks)."""
    n = len(tracks)
    if n == 0:
        return []
    means = np.stack([t.mean_embedding() for t in tracks]).astype(np.float64)
    sums = means @ means.T  # sum of pairwise similarities between clusters i and j
    sizes = np.ones(n)
    apart = np.eye(n, dtype=bool)  # seen in the same frame (or the same cluster)
    by_frame: dict[int, list[int]] = {}
    for i, track in enumerate(tracks):
        for frame in track.frames:
            by_frame.setdefault(frame, []).append(i)
    for owners in by_frame.values():
        apart[np.ix_(owners, owners)] = True
    alive = np.ones(n, dtype=bool)
    members = [[i] for i in range(n)]
    while True:
        score = sums / np.outer(sizes, sizes)
        score[apart | ~alive[:, None] | ~alive[None, :]] = -np.inf
        a, b = divmod(int(np.argmax(score)), n)
        if score[a, b] < threshold:
            break
        sums[a, :] += sums[b, :]
        sums[:, a] += sums[:, b]
        sizes[a] += sizes[b]
        apart[a, :] |= apart[b, :]
        apart[:, a] |= apart[:, b]
        alive[b] = False
        members[a] += members[b]
    clusters = [
        Identity(sorted((tracks[i] for i in members[c]), key=lambda t: t.start_s))
        for c in range(n)
        if alive[c]
    ]
    return sorted(clusters, key=lambda c: c.observations[0].time_s)


def segments(times: Sequence[float], max_gap_s: float) -> list[tuple[float, float]]:
    """Time ranges of presence: consecutive sightings closer than ``max_gap_s`` join."""
    out: list[list[float]] = []
    for t in sorted(times):
        if out and t - out[-1][1] <= max_gap_s:
            out[-1][1] = t
        else:
            out.append([t, t])
    return [(a, b) for a, b in out]


class VideoReID:
    """Accumulates sampled frames' faces; ``result()`` gives the identities."""

    def __init__(self, sample_fps: float, threshold: float, lost_s: float = 1.0) -> None:
        self.sample_fps = sample_fps
        self.threshold = threshold
        self._tracker = FaceTracker(sample_fps, lost_s=lost_s)
        self.frames_done = 0
        self.frames_with_faces = 0

    def add_frame(self, frame: SampledFrame, faces: Sequence[FaceRecord]) -> None:
        """``faces`` as the face service returns them (bbox in the processed frame's pixels,
        scaled here to the original's)."""
        observations = [
            FaceObservation(
                frame_index=frame.index,
                time_s=frame.time_s,
                bbox=(np.asarray(f.bbox, dtype=np.float32) * frame.scale),
                score=f.score,
                embedding=f.embedding,
            )
            for f in faces
        ]
        self._tracker.update(observations)
        self.frames_done += 1
        self.frames_with_faces += bool(observations)

    def identities(self) -> list[Identity]:
        tracks = split_on_appearance(self._tracker.tracks(), self.threshold)
        return merge_tracks(tracks, self.threshold)

    def result(
        self, embedding_model: str, emotions: dict[int, Any] | None = None
    ) -> dict[str, Any]:
        """JSON-ready identities; ``emotions`` maps identity index to its emotion scores."""
        max_gap = 1.5 / self.sample_fps
        payload = []
        for number, identity in enumerate(self.identities()):
            obs = identity.observations
            best = max(obs, key=lambda o: o.quality)
            scores = (emotions or {}).get(number)
            payload.append(
                {
                    "identity_id": number,
                    "embedding": [round(float(v), 6) for v in identity.embedding()],
                    "embedding_model": embedding_model,
                    "first_seen_s": obs[0].time_s,
                    "last_seen_s": obs[-1].time_s,
                    "face_count": len(obs),
                    "segments": [
                        {"start_s": a, "end_s": b}
                        for a, b in segments([o.time_s for o in obs], max_gap)
                    ],
                    "tracks": [
                        {
                            "track_id": t.track_id,
                            "start_s": t.start_s,
                            "end_s": t.end_s,
                            "face_count": len(t.observations),
                        }
                        for t in identity.tracks
                    ],
                    "best_face": best_face_payload(best),
                    "emotions": scores,
                    "dominant_emotion": max(scores, key=scores.get) if scores else None,
                }
            )
        return {
            "identity_threshold": self.threshold,
            "frames_sampled": self.frames_done,
            "frames_with_faces": self.frames_with_faces,
            "num_identities": len(payload),
            "identities": payload,
        }

    def best_observations(self) -> list[FaceObservation]:
        """The best-quality face of each identity, in ``result()`` order."""
        return [max(i.observations, key=lambda o: o.quality) for i in self.identities()]


def best_face_payload(obs: FaceObservation) -> dict[str, Any]:
    return {
        "time_s": obs.time_s,
        "frame_index": obs.frame_index,
        "bbox": xyxy_to_xywh(obs.bbox),
        "score": round(obs.score, 4),
    }


FaceFn = Callable[[list[np.ndarray]], list[list[FaceRecord]]]


def engine_face_fn(engine: Any) -> FaceFn:
    """The face service's ``detect_embed`` contract, in process, over a ``FaceEngine``."""

    def detect_embed(images: list[np.ndarray]) -> list[list[FaceRecord]]:
        detections = engine.detect(images)
        out: list[list[FaceRecord]] = []
        for image, faces in zip(images, detections, strict=True):
            rows = engine.embed([image] * len(faces), faces) if faces else []
            out.append([FaceRecord.from_detection(f, rows[i]) for i, f in enumerate(faces)])
        return out

    return detect_embed


def analyze_video_file(
    path: Path,
    face_fn: FaceFn,
    *,
    engine: str,
    embedding_model: str,
    limits: VideoLimits,
    sample_fps: float,
    threshold: float | None = None,
    lost_s: float = 1.0,
) -> dict[str, Any]:
    """The whole pipeline in process (tests, scripts): probe, sample, detect, track, merge."""
    from facereid.video.intake import iter_sampled_frames, probe_video

    info = probe_video(path, limits)
    reid = VideoReID(sample_fps, identity_threshold(engine, threshold), lost_s)
    report = DecodeReport()
    for frame in iter_sampled_frames(path, info, limits, sample_fps, report):
        reid.add_frame(frame, face_fn([frame.image])[0])
    return video_result(reid, info, report, embedding_model, sample_fps)


def video_result(
    reid: VideoReID,
    info: VideoInfo,
    report: DecodeReport,
    embedding_model: str,
    sample_fps: float,
    emotions: dict[int, Any] | None = None,
) -> dict[str, Any]:
    result = reid.result(embedding_model, emotions)
    video = info.as_dict()
    video.update({"sample_fps": sample_fps, "truncated": report.truncated})
    return {"video": video, "embedding_model": embedding_model, **result}
