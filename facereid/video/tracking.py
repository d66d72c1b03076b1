"""Frame-to-frame face tracking with Roboflow's ByteTrack (the ``trackers`` package).

ByteTrack links boxes by Kalman-predicted IoU only. Two things are added around it:
- ByteTrack gives a new track its id from its second matched frame on; the first detection
  (``tracker_id == -1``) is linked back to the track that claims its box on the next frame,
  and one that no track claims becomes a one-face track of its own.
- A track is split where a face's embedding stops resembling the track's mean, so a cut that
  puts another person where the last one stood does not continue the old track.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from facereid.faces.records import FloatArray


@dataclass(eq=False)  # compared by identity: numpy fields have no truth value
class FaceObservation:
    """One face in one sampled frame; ``bbox`` is x1, y1, x2, y2 in original pixels."""

    frame_index: int
    time_s: float
    bbox: FloatArray
    score: float
    embedding: FloatArray  # L2-normalised
    face_quality: float | None = None  # facereid.faces.quality's score, from the face service

    @property
    def area(self) -> float:
        return float(max(0.0, self.bbox[2] - self.bbox[0]) * max(0.0, self.bbox[3] - self.bbox[1]))

    @property
    def quality(self) -> tuple[float, float]:
        """The face-quality score (the one galleries gate on), then size x confidence to
        break ties (and to rank faces that carry no score)."""
        score = -1.0 if self.face_quality is None else self.face_quality
        return (score, self.area * self.score)


@dataclass
class Track:
    track_id: int
    observations: list[FaceObservation] = field(default_factory=list)

    @property
    def start_s(self) -> float:
        return self.observations[0].time_s

    @property
    def end_s(self) -> float:
        return self.observations[-1].time_s

    @property
    def frames(self) -> set[int]:
        return {o.frame_index for o in self.observations}

    def mean_embedding(self) -> FloatArray:
        return unit_mean([o.embedding for o in self.observations])


def unit_mean(rows: list[FloatArray]) -> FloatArray:
    mean = np.mean(np.stack(rows).astype(np.float64), axis=0)
    norm = float(np.linalg.norm(mean))
    unit: FloatArray = (mean / max(norm, 1e-12)).astype(np.float32)
    return unit


class FaceTracker:
    """Feed sampled frames in time order with ``update``; read ``tracks()`` at the end."""

    def __init__(self, sample_fps: float, lost_s: float = 1.0, min_iou: float = 0.1) -> None:
        from trackers import ByteTrackTracker

        # lost_track_buffer counts 30 fps frames; frame_rate rescales it to our sampling.
        self._tracker = ByteTrackTracker(
            lost_track_buffer=max(1, round(lost_s * 30)),
            frame_rate=sample_fps,
            minimum_consecutive_frames=1,
            minimum_iou_threshold=min_iou,
        )
        self._ids = itertools.count(1)
        self._own_id: dict[int, int] = {}  # ByteTrack id -> our track id
        self._tracks: dict[int, Track] = {}
        self._pending: list[FaceObservation] = []  # last frame's faces without a track id

    def update(self, observations: list[FaceObservation]) -> None:
        import supervision as sv

        if observations:
            detections = sv.Detections(
                xyxy=np.stack([o.bbox for o in observations]).astype(np.float32),
                data={"obs": np.arange(len(observations))},
            )
        else:
            detections = sv.Detections.empty()
        result = self._tracker.update(detections)
        unassigned: list[FaceObservation] = []
        tracker_ids = [] if result.tracker_id is None else result.tracker_id.tolist()
        for obs_index, bt_id in zip(result.data.get("obs", []), tracker_ids, strict=True):
            obs = observations[int(obs_index)]
            if int(bt_id) < 0:
                unassigned.append(obs)
                continue
            track = self._track_for(int(bt_id), obs)
            track.observations.append(obs)
        for orphan in self._pending:  # nobody claimed them: a one-face track each
            self._new_track().observations.append(orphan)
        self._pending = unassigned

    @property
    def track_count(self) -> int:
        """Tracks so far, counting faces that still wait for a track."""
        return len(self._tracks) + len(self._pending)

    def tracks(self) -> list[Track]:
        """Tracks, split where the face changes, ordered by their first appearance."""
        for orphan in self._pending:
            self._new_track().observations.append(orphan)
        self._pending = []
        ordered = sorted(self._tracks.values(), key=lambda t: (t.start_s, t.track_id))
        for track in ordered:
            track.observations.sort(key=lambda o: o.time_s)
        return ordered

    def _track_for(self, bt_id: int, obs: FaceObservation) -> Track:
        if bt_id in self._own_id:
            return self._tracks[self._own_id[bt_id]]
        track = self._new_track()
        self._own_id[bt_id] = track.track_id
        # The face that started this ByteTrack track was reported untracked last frame.
        best = max(self._pending, key=lambda p: iou(p.bbox, obs.bbox), default=None)
        if best is not None and iou(best.bbox, obs.bbox) > 0.0:
            self._pending.remove(best)
            track.observations.append(best)
        return track

    def _new_track(self) -> Track:
        track = Track(next(self._ids))
        self._tracks[track.track_id] = track
        return track


def split_on_appearance(tracks: list[Track], threshold: float) -> list[Track]:
    """Cut a track where a face's similarity to the running mean falls under ``threshold``."""
    next_id = max((t.track_id for t in tracks), default=0) + 1
    out: list[Track] = []
    for track in tracks:
        current = Track(track.track_id)
        total = np.zeros_like(track.observations[0].embedding, dtype=np.float64)
        for obs in track.observations:
            if current.observations:
                mean = total / max(float(np.linalg.norm(total)), 1e-12)
                if float(np.dot(mean, obs.embedding)) < threshold:
                    out.append(current)
                    current = Track(next_id)
                    next_id += 1
                    total = np.zeros_like(total)
            current.observations.append(obs)
            total += obs.embedding
        out.append(current)
    return sorted(out, key=lambda t: (t.start_s, t.track_id))


def iou(a: Sequence[float] | FloatArray, b: Sequence[float] | FloatArray) -> float:
    """Intersection over union of two x1, y1, x2, y2 boxes."""
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, float(x2 - x1)) * max(0.0, float(y2 - y1))
    union = float((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])) - inter
    return inter / union if union > 0 else 0.0
