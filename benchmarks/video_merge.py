"""Identity merging of a video job (facereid.video.identities.merge_tracks) at 1k-5k tracks.

The worst case of issue 12: two faces alternating in one spot make one track per sighting,
all alike. Tracks here are two people, one sighting each, 512-dim, with every fifth pair of
tracks sharing a frame. Run: ``python -m benchmarks.video_merge`` (``MERGE_TRACKS=1000,5000``).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from benchmarks.common import env_ints, markdown_table
from facereid.video.identities import merge_tracks
from facereid.video.tracking import FaceObservation, Track


def alternating_tracks(count: int, dim: int = 512, seed: int = 0) -> list[Track]:
    rng = np.random.default_rng(seed)
    people = rng.normal(size=(2, dim))
    box = np.array([0, 0, 80, 80], np.float32)
    tracks = []
    for number in range(count):
        vector = people[number % 2] + rng.normal(scale=0.3, size=dim)
        vector /= np.linalg.norm(vector)
        frame = number - (number % 5 == 1)  # every fifth track shares the previous frame
        observation = FaceObservation(frame, frame / 2, box, 0.9, vector.astype(np.float32))
        tracks.append(Track(number + 1, [observation]))
    return tracks


def main() -> int:
    rows = []
    for count in env_ints("MERGE_TRACKS", "1000,2000,5000"):
        tracks = alternating_tracks(count)
        started = time.perf_counter()
        identities = merge_tracks(tracks, threshold=0.5)
        seconds = time.perf_counter() - started
        rows.append([count, f"{seconds:.2f}", len(identities)])
    sys.stdout.write(markdown_table(["tracks", "merge s", "identities"], rows) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
