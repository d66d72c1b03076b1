from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from facereid.gallery import clustering
from facereid.gallery.clustering import cluster_faces


def people(n_people: int, per: int, noise: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_people, 64))
    rows = np.repeat(centres, per, axis=0) + rng.normal(scale=noise, size=(n_people * per, 64))
    return np.asarray(rows / np.linalg.norm(rows, axis=1, keepdims=True), dtype=np.float32)


def test_neighbours_match_the_full_matrix_across_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clustering, "BLOCK_ELEMENTS", 100_000)  # 3000 rows: 90 blocks
    rows = people(30, 100, 0.3)
    found = clustering.neighbours(rows, 0.8, links=8)
    sims = rows @ rows.T
    np.fill_diagonal(sims, -np.inf)
    assert found.degree.tolist() == ((sims >= 0.8).sum(axis=1) + 1).tolist()
    for i in range(0, 3000, 97):
        expected = np.sort(sims[i])[::-1][:8]
        expected = expected[expected >= 0.8]
        got = found.similarity[i][np.isfinite(found.similarity[i])]
        np.testing.assert_allclose(np.sort(got)[::-1], expected, rtol=1e-6)
        assert (found.index[i] != i).all()


def test_memory_stays_linear_when_every_pair_is_a_neighbour() -> None:
    """Issue 21: threshold -1 made all n^2 pairs stored edges (+410 MB at 3,000 faces)."""
    rows = people(1, 6000, 0.3)  # all pairs as int64 edges: 576 MB; a block is about 50 MB
    tracemalloc.start()
    try:
        clusters = cluster_faces(rows, [""] * len(rows), threshold=-1, min_faces=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(clusters) == 1 and len(clusters[0].members) == 6000  # everyone is one cluster
    assert peak < 128 * 1024 * 1024, peak


def test_each_person_is_one_cluster_and_loners_stay_out() -> None:
    rows = np.concatenate([people(5, 6, 0.1), people(3, 1, 0.1, seed=7)])
    clusters = cluster_faces(rows, [""] * len(rows), threshold=0.8, min_faces=3)
    assert sorted(sorted(c.members) for c in clusters) == [
        list(range(p * 6, p * 6 + 6)) for p in range(5)
    ]


def test_faces_of_one_image_never_share_a_cluster() -> None:
    rows = people(1, 6, 0.05)
    sources = ["a", "a", "a", "b", "c", "d"]
    (cluster,) = cluster_faces(rows, sources, threshold=0.8, min_faces=2)
    assert len(cluster.members) == 4
    assert len({sources[m] for m in cluster.members}) == 4


def test_min_faces_drops_small_groups() -> None:
    rows = people(2, 2, 0.05)
    assert cluster_faces(rows, [""] * 4, threshold=0.8, min_faces=3) == []
    assert len(cluster_faces(rows, [""] * 4, threshold=0.8, min_faces=2)) == 2


def test_one_face_alone_is_a_cluster_of_one_or_none() -> None:
    """A gallery of one unnamed face: no neighbour at all (the generated client found a 503)."""
    rows = people(1, 1, 0.1)
    assert [c.members for c in cluster_faces(rows, ["a"], threshold=0.5, min_faces=1)] == [[0]]
    assert cluster_faces(rows, ["a"], threshold=0.5, min_faces=2) == []
