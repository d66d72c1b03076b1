"""Who is in a video: tracks merged into identities by embedding similarity.

Tracks (facereid.video.tracking) hold one person while they stay in view. A person who leaves,
is hidden, or comes back after a cut starts a new track; tracks are then merged greedily,
most similar pair first (cosine of the tracks' L2-normalised mean embeddings, average
linkage), while the best pair is above the embedding model's threshold. Two tracks seen in
the same frame are never merged: they are two people.

The merging is SciPy's average-linkage clustering (``scipy.cluster.hierarchy.linkage``, the
nearest-neighbour-chain algorithm, O(n²) time and a condensed O(n²) distance array) cut at
the threshold. Average linkage is reducible, so it makes the same merges as the greedy
most-similar-pair-first loop it replaces (which was O(n³)); tracks sharing a frame get a
distance so large that every cluster holding them stays above any cut, which is the
"cannot link" of the greedy loop. ``tests/unit/facereid/video/test_merge.py`` checks this
against a brute-force greedy reference on random inputs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from facereid.errors import VideoTooComplexError
from facereid.faces.records import FaceRecord, FloatArray, xyxy_to_xywh
from facereid.video.intake import DecodeReport, SampledFrame, VideoInfo
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
    """Average-linkage merging above ``threshold`` with a cannot-link for tracks that share a
    frame. Identities are ordered by first appearance."""
    from scipy.cluster.hierarchy import linkage

    n = len(tracks)
    if n < 2:
        return [Identity(list(tracks))] if tracks else []
    # float32 products (BLAS sgemm, twice the speed of float64): similarities are exact to
    # ~1e-7, far below any threshold's meaning.
    means = np.stack([t.mean_embedding() for t in tracks]).astype(np.float32)
    distances = _condensed_cosine_distances(means)
    _forbid_shared_frames(distances, tracks, n)
    merges = linkage(distances, method="average")
    # Merges come out in order of distance; those within the cut join clusters.
    cut = 1.0 - threshold
    parent = list(range(2 * n - 1))
    for step, (a, b, distance, _) in enumerate(merges):
        if distance > cut:
            break
        parent[int(a)] = parent[int(b)] = n + step
    members: dict[int, list[Track]] = {}
    for i, track in enumerate(tracks):
        members.setdefault(_root(parent, i), []).append(track)
    clusters = [Identity(sorted(group, key=lambda t: t.start_s)) for group in members.values()]
    return sorted(clusters, key=lambda c: c.observations[0].time_s)


# Far beyond any cut even when averaged with n² - 1 perfect matches, yet exact in float64.
_APART = 1e12


def _condensed_cosine_distances(means: np.ndarray, block: int = 512) -> np.ndarray:
    """``1 - cosine`` for every pair i < j, in SciPy's condensed order, computed in blocks of
    rows (one matrix product each) so that no n x n matrix is held."""
    n = len(means)
    out = np.empty(n * (n - 1) // 2, dtype=np.float64)  # SciPy's linkage works in float64
    start = 0
    for first in range(0, n - 1, block):
        products = means[first : first + block] @ means[first:].T
        for offset in range(len(products)):
            row = products[offset, offset + 1 :]
            out[start : start + len(row)] = row
            start += len(row)
    np.subtract(1.0, out, out=out)
    np.maximum(out, 0.0, out=out)
    return out


def _forbid_shared_frames(distances: np.ndarray, tracks: Sequence[Track], n: int) -> None:
    by_frame: dict[int, list[int]] = {}
    for i, track in enumerate(tracks):
        for frame in track.frames:
            by_frame.setdefault(frame, []).append(i)
    for owners in by_frame.values():
        for x, i in enumerate(owners):
            for j in owners[x + 1 :]:
                a, b = min(i, j), max(i, j)
                distances[n * a - a * (a + 1) // 2 + (b - a - 1)] = _APART


def _root(parent: list[int], node: int) -> int:
    while parent[node] != node:
        node = parent[node]
    return node


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

    def __init__(
        self,
        sample_fps: float,
        threshold: float,
        lost_s: float = 1.0,
        max_tracks: int | None = None,
    ) -> None:
        self.sample_fps = sample_fps
        self.threshold = threshold
        self.max_tracks = max_tracks
        self._tracker = FaceTracker(sample_fps, lost_s=lost_s)
        self._identities: list[Identity] | None = None
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
                face_quality=None if f.quality is None else f.quality.score,
            )
            for f in faces
        ]
        self._tracker.update(observations)
        self._identities = None
        self.frames_done += 1
        self.frames_with_faces += bool(observations)
        self._check_tracks(self._tracker.track_count)

    def identities(self) -> list[Identity]:
        """Computed once after the last frame (O(n²) in tracks: call it off the event loop)."""
        if self._identities is None:
            tracks = split_on_appearance(self._tracker.tracks(), self.threshold)
            self._check_tracks(len(tracks))
            self._identities = merge_tracks(tracks, self.threshold)
        return self._identities

    def _check_tracks(self, count: int) -> None:
        # The merge needs memory and time quadratic in tracks: fail rather than drop people.
        if self.max_tracks is not None and count > self.max_tracks:
            raise VideoTooComplexError(
                f"the video produced over {self.max_tracks} face tracks (VIDEO_MAX_TRACKS)"
            )

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
        "quality": None if obs.face_quality is None else round(obs.face_quality, 4),
    }


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
    video.update(
        {
            "sample_fps": sample_fps,
            "truncated": report.truncated,
            "start_s": round(report.start_s, 4),
        }
    )
    return {"video": video, "embedding_model": embedding_model, **result}
