from __future__ import annotations

import numpy as np

from facereid.gallery.clustering import cluster_faces, neighbour_pairs


def people(n_people: int, per: int, noise: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_people, 64))
    rows = np.repeat(centres, per, axis=0) + rng.normal(scale=noise, size=(n_people * per, 64))
    return np.asarray(rows / np.linalg.norm(rows, axis=1, keepdims=True), dtype=np.float32)


def test_neighbour_pairs_match_the_full_matrix_across_blocks() -> None:
    rows = people(30, 100, 0.3)  # 3000 rows: more than one block
    i, j = neighbour_pairs(rows, 0.8)
    sims = rows @ rows.T
    np.fill_diagonal(sims, -1)
    ei, ej = np.nonzero(sims >= 0.8)
    assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == sorted(
        zip(ei.tolist(), ej.tolist(), strict=True)
    )


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
