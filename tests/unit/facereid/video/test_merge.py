"""Track merging (facereid.video.identities.merge_tracks) against a brute-force reference: the
greedy most-similar-pair-first average linkage that production used before (O(n³)), on random
tracks with look-alike people and shared frames."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from facereid.video.identities import merge_tracks
from facereid.video.tracking import FaceObservation, Track


def greedy_reference(tracks: Sequence[Track], threshold: float) -> set[frozenset[int]]:
    """Recompute every cluster pair's mean similarity, merge the best pair while it is at or
    above ``threshold`` and the two clusters share no frame."""
    means = [t.mean_embedding().astype(np.float64) for t in tracks]
    clusters = [[i] for i in range(len(tracks))]
    frames = [set(t.frames) for t in tracks]
    while True:
        best: tuple[float, int, int] | None = None
        for a in range(len(clusters)):
            for b in range(a + 1, len(clusters)):
                if frames[a] & frames[b]:
                    continue
                score = float(
                    np.mean([means[i] @ means[j] for i in clusters[a] for j in clusters[b]])
                )
                if score >= threshold and (best is None or score > best[0]):
                    best = (score, a, b)
        if best is None:
            break
        _, a, b = best
        clusters[a] += clusters.pop(b)
        frames[a] |= frames.pop(b)
    return {frozenset(c) for c in clusters}


def random_tracks(rng: np.random.Generator, count: int, people: int, dim: int = 32) -> list[Track]:
    """Tracks of a few people (some alike), one to three sightings each, frames overlapping."""
    centres = rng.normal(size=(people, dim))
    centres[1] = centres[0] + rng.normal(scale=0.3, size=dim)  # two look-alikes
    tracks = []
    for number in range(count):
        person = int(rng.integers(people))
        first = int(rng.integers(0, count))
        observations = []
        for k in range(int(rng.integers(1, 4))):
            vector = centres[person] + rng.normal(scale=0.35, size=dim)
            vector /= np.linalg.norm(vector)
            box = np.array([0, 0, 40, 40], np.float32)
            observations.append(
                FaceObservation(first + k, (first + k) / 2, box, 0.9, vector.astype(np.float32))
            )
        tracks.append(Track(number + 1, observations))
    return tracks


def as_sets(tracks: Sequence[Track], threshold: float) -> set[frozenset[int]]:
    index = {id(t): i for i, t in enumerate(tracks)}
    return {frozenset(index[id(t)] for t in c.tracks) for c in merge_tracks(tracks, threshold)}


@pytest.mark.parametrize("seed", range(12))
def test_same_identities_as_the_greedy_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    tracks = random_tracks(rng, count=int(rng.integers(2, 40)), people=int(rng.integers(2, 6)))
    for threshold in (0.5, 0.7, 0.85):
        assert as_sets(tracks, threshold) == greedy_reference(tracks, threshold)


def test_the_reference_does_forbid_and_merge_here() -> None:
    """The random inputs exercise both rules: some merges happen, some are forbidden."""
    rng = np.random.default_rng(3)
    tracks = random_tracks(rng, count=30, people=3)
    merged = greedy_reference(tracks, 0.7)
    assert len(merged) < len(tracks)
    shared = [(a, b) for a in range(30) for b in range(a) if tracks[a].frames & tracks[b].frames]
    assert shared
    for group in merged:
        for a, b in shared:
            assert not {a, b} <= group


def test_tracks_in_the_same_frame_never_merge_even_when_identical() -> None:
    vector = np.ones(8, np.float32) / np.sqrt(8)
    box = np.array([0, 0, 40, 40], np.float32)
    tracks = [Track(i, [FaceObservation(0, 0.0, box, 0.9, vector)]) for i in range(1, 4)]
    tracks.append(Track(9, [FaceObservation(5, 2.5, box, 0.9, vector)]))
    identities = merge_tracks(tracks, threshold=0.5)
    assert len(identities) == 3  # the later sighting joins one of the three
    assert sorted(len(i.tracks) for i in identities) == [1, 1, 2]


def test_no_and_one_track() -> None:
    assert merge_tracks([], 0.5) == []
    box = np.array([0, 0, 40, 40], np.float32)
    one = Track(1, [FaceObservation(0, 0.0, box, 0.9, np.full(4, 0.5, np.float32))])
    assert [i.tracks for i in merge_tracks([one], 0.5)] == [[one]]
