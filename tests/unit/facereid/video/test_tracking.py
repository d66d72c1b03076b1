"""Tracking and track merging on hand-made observations (no model, fast)."""

from __future__ import annotations

import numpy as np

from facereid.video.identities import best_face_payload, merge_tracks, segments
from facereid.video.tracking import FaceObservation, FaceTracker, Track, split_on_appearance

RNG = np.random.default_rng(0)


def unit(vector: np.ndarray) -> np.ndarray:
    out: np.ndarray = (vector / np.linalg.norm(vector)).astype(np.float32)
    return out


PERSON_A = unit(RNG.normal(size=128))
PERSON_B = unit(RNG.normal(size=128))


def face(frame: int, x: float, person: np.ndarray, fps: float = 2.0) -> FaceObservation:
    noisy = unit(person + RNG.normal(scale=0.02, size=128))
    box = np.array([x, 50, x + 60, 110], np.float32)
    return FaceObservation(frame, frame / fps, box, 0.9, noisy)


def test_moving_faces_keep_their_track_including_the_first_sighting() -> None:
    tracker = FaceTracker(sample_fps=2.0)
    for i in range(5):
        tracker.update([face(i, 10 + 8 * i, PERSON_A), face(i, 200 - 8 * i, PERSON_B)])
    tracks = tracker.tracks()
    assert len(tracks) == 2
    assert all(len(t.observations) == 5 for t in tracks)
    assert {round(t.start_s, 2) for t in tracks} == {0.0}


def test_many_new_faces_at_once_each_keep_their_first_sighting() -> None:
    tracker = FaceTracker(sample_fps=2.0)
    people = [unit(RNG.normal(size=128)) for _ in range(4)]
    for i in range(3):
        tracker.update([face(i, 10 + 70 * k, person) for k, person in enumerate(people)][::-1])
    tracks = tracker.tracks()
    assert sorted(len(t.observations) for t in tracks) == [3, 3, 3, 3]


def test_a_single_sighting_becomes_its_own_track() -> None:
    tracker = FaceTracker(sample_fps=2.0)
    tracker.update([face(0, 10, PERSON_A)])
    tracker.update([])
    tracks = tracker.tracks()
    assert [len(t.observations) for t in tracks] == [1]


def test_a_cut_to_another_person_in_the_same_place_splits_the_track() -> None:
    tracker = FaceTracker(sample_fps=2.0)
    for i in range(3):
        tracker.update([face(i, 100, PERSON_A)])
    for i in range(3, 6):
        tracker.update([face(i, 100, PERSON_B)])
    raw = tracker.tracks()
    assert len(raw) == 1  # IoU alone cannot tell them apart
    split = split_on_appearance(raw, threshold=0.9)
    assert [len(t.observations) for t in split] == [3, 3]


def test_tracks_of_one_person_merge_but_co_visible_tracks_never_do() -> None:
    a1 = Track(1, [face(i, 10, PERSON_A) for i in range(3)])
    b1 = Track(2, [face(i, 200, PERSON_B) for i in range(3)])
    a2 = Track(3, [face(i, 10, PERSON_A) for i in range(8, 10)])
    twin = Track(4, [face(i, 300, PERSON_A) for i in range(8, 10)])  # same look, same frames
    identities = merge_tracks([a1, b1, a2, twin], threshold=0.9)
    groups = sorted(sorted(t.track_id for t in i.tracks) for i in identities)
    assert [1, 3] in groups or [1, 4] in groups
    assert [2] in groups
    assert len(identities) == 3


def test_segments_join_sightings_closer_than_the_gap() -> None:
    assert segments([0.0, 0.5, 1.0, 3.0, 3.5], max_gap_s=0.75) == [(0.0, 1.0), (3.0, 3.5)]


def test_observations_compare_by_identity() -> None:
    first, second = face(0, 10, PERSON_A), face(0, 90, PERSON_B)
    pending = [first, second]
    pending.remove(second)  # value equality would compare numpy arrays and raise
    assert pending == [first]


def test_the_best_face_is_the_highest_quality_score_not_the_largest() -> None:
    """The video's best face uses the gallery gate's quality score; size x confidence only
    breaks ties and ranks faces without a score."""
    big_blurred = FaceObservation(0, 0.0, np.array([0, 0, 200, 200], np.float32), 0.99, PERSON_A)
    big_blurred.face_quality = 0.2
    small_sharp = FaceObservation(1, 0.5, np.array([0, 0, 80, 80], np.float32), 0.9, PERSON_A)
    small_sharp.face_quality = 0.8
    unscored = FaceObservation(2, 1.0, np.array([0, 0, 300, 300], np.float32), 0.99, PERSON_A)
    assert max([big_blurred, small_sharp, unscored], key=lambda o: o.quality) is small_sharp
    twin = FaceObservation(3, 1.5, np.array([0, 0, 90, 90], np.float32), 0.9, PERSON_A)
    twin.face_quality = 0.8
    assert max([small_sharp, twin], key=lambda o: o.quality) is twin  # the tie: larger wins
    payload = best_face_payload(small_sharp)
    assert payload["quality"] == 0.8 and payload["score"] == 0.9
