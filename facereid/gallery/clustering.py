"""Grouping unnamed faces: DBSCAN over cosine similarity, with a cannot-link per image.

Why DBSCAN: the number of people is unknown (no k-means), most unnamed faces are one-offs that
must stay unclustered (noise, not forced into a group), and a person's faces form chains of
close pairs rather than round blobs. Immich and PhotoPrism cluster faces the same way. The
neighbour graph is computed exactly, in blocks of rows (one BLAS matmul each), so 10k faces
cost about 10^8 dot products and memory stays at one block; core points need ``min_faces``
neighbours (themselves included) at or above ``threshold``.

Two faces from the same image are two people: after clustering, a cluster keeps only the face
of each image that is closest to the cluster's mean, and the rest become noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

BLOCK_ROWS = 2048


@dataclass(frozen=True)
class Cluster:
    members: list[int]  # row indices, most central first


def neighbour_pairs(vectors: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """All (i, j), i != j, with cosine(i, j) >= threshold; rows must be unit vectors."""
    rows_out, cols_out = [], []
    for start in range(0, len(vectors), BLOCK_ROWS):
        sims = vectors[start : start + BLOCK_ROWS] @ vectors.T
        r, c = np.nonzero(sims >= threshold)
        keep = (r + start) != c
        rows_out.append(r[keep] + start)
        cols_out.append(c[keep])
    if not rows_out:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    return np.concatenate(rows_out), np.concatenate(cols_out)


def cluster_faces(
    vectors: np.ndarray, sources: Sequence[str], threshold: float, min_faces: int
) -> list[Cluster]:
    """Clusters of at least ``min_faces`` faces, largest first."""
    n = len(vectors)
    if n == 0:
        return []
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    rows, cols = neighbour_pairs(unit.astype(np.float32), threshold)
    degree = np.bincount(rows, minlength=n) + 1  # a face is its own neighbour
    core = degree >= min_faces
    core_edges = core[rows] & core[cols]
    graph = coo_matrix(
        (np.ones(int(core_edges.sum()), np.int8), (rows[core_edges], cols[core_edges])),
        shape=(n, n),
    )
    _, labels = connected_components(graph, directed=False)
    labels = np.where(core, labels, -1)
    _attach_border_points(unit, rows, cols, core, labels)
    clusters = []
    for label in np.unique(labels[labels >= 0]):
        members = _one_face_per_image(unit, np.flatnonzero(labels == label), sources)
        if len(members) >= min_faces:
            clusters.append(Cluster(members=members))
    clusters.sort(key=lambda c: (-len(c.members), c.members[0]))
    return clusters


def _attach_border_points(
    unit: np.ndarray, rows: np.ndarray, cols: np.ndarray, core: np.ndarray, labels: np.ndarray
) -> None:
    """A non-core face joins the cluster of its most similar core neighbour (DBSCAN border)."""
    to_core = ~core[rows] & core[cols]
    best: dict[int, tuple[float, int]] = {}
    for i, j in zip(rows[to_core].tolist(), cols[to_core].tolist(), strict=True):
        sim = float(unit[i] @ unit[j])
        if i not in best or sim > best[i][0]:
            best[i] = (sim, j)
    for i, (_, j) in best.items():
        labels[i] = labels[j]


def _one_face_per_image(unit: np.ndarray, members: np.ndarray, sources: Sequence[str]) -> list[int]:
    centre = unit[members].mean(axis=0)
    order = members[np.argsort(-(unit[members] @ centre), kind="stable")]
    seen: set[str] = set()
    kept = []
    for index in order.tolist():
        source = sources[index]
        if source and source in seen:
            continue
        seen.add(source)
        kept.append(index)
    return kept
