"""Grouping unnamed faces: DBSCAN over cosine similarity, with a cannot-link per image.

Why DBSCAN: the number of people is unknown (no k-means), most unnamed faces are one-offs that
must stay unclustered (noise, not forced into a group), and a person's faces form chains of
close pairs rather than round blobs. Immich and PhotoPrism cluster faces the same way.

Memory is O(n * k), whatever the threshold (issue 21: ``threshold: -1`` once made every pair a
stored edge, O(n^2), about 19 GB at 20k faces). Similarities are computed in blocks of rows
(one BLAS matmul each, at most ``BLOCK_ELEMENTS`` values at a time); from each block a face
keeps only its count of neighbours at or above ``threshold`` (exact: it decides core points)
and its ``MAX_LINKS`` most similar neighbours above the threshold (the links that join core
points into clusters and attach border faces). Where a face has more than ``MAX_LINKS``
neighbours its cluster is joined through its closest ones, which in a dense group are core
points linked to each other anyway; below that it is exact DBSCAN.

Two faces from the same image are two people: after clustering, a cluster keeps only the face
of each image that is closest to the cluster's mean, and the rest become noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

MAX_LINKS = 32  # neighbours a face keeps for linking
BLOCK_ELEMENTS = 1 << 21  # similarities held at once: 2M float32 (8 MB), plus their ranking


@dataclass(frozen=True)
class Cluster:
    members: list[int]  # row indices, most central first


@dataclass(frozen=True)
class Neighbours:
    degree: np.ndarray  # (n,) neighbours at or above the threshold, the face itself included
    index: np.ndarray  # (n, k) the k most similar such neighbours, -1 where fewer
    similarity: np.ndarray  # (n, k) their similarities, -inf where ``index`` is -1


def neighbours(unit: np.ndarray, threshold: float, links: int = MAX_LINKS) -> Neighbours:
    """Each row's neighbour count and closest neighbours; rows must be unit vectors."""
    n = len(unit)
    k = max(0, min(links, n - 1))
    degree = np.ones(n, np.int64)
    index = np.full((n, k), -1, np.int64)
    similarity = np.full((n, k), -np.inf, np.float32)
    step = max(1, BLOCK_ELEMENTS // max(n, 1))
    for start in range(0, n, step):
        end = min(n, start + step)
        sims = unit[start:end] @ unit.T
        sims[np.arange(end - start), np.arange(start, end)] = -np.inf  # not its own neighbour
        above = sims >= threshold
        degree[start:end] += above.sum(axis=1)
        if k == 0:
            continue
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top_sims = np.take_along_axis(sims, top, axis=1)
        keep = top_sims >= threshold
        index[start:end] = np.where(keep, top, -1)
        similarity[start:end] = np.where(keep, top_sims, -np.inf)
    return Neighbours(degree, index, similarity)


def cluster_faces(
    vectors: np.ndarray, sources: Sequence[str], threshold: float, min_faces: int
) -> list[Cluster]:
    """Clusters of at least ``min_faces`` faces, largest first."""
    n = len(vectors)
    if n == 0:
        return []
    unit = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    found = neighbours(unit, threshold)
    core = found.degree >= min_faces
    valid = found.index >= 0
    target = np.where(valid, found.index, 0)
    rows = np.broadcast_to(np.arange(n)[:, None], target.shape)
    linked = valid & core[:, None] & core[target]
    graph = coo_matrix(
        (np.ones(int(linked.sum()), np.int8), (rows[linked], target[linked])), shape=(n, n)
    )
    _, labels = connected_components(graph, directed=False)
    labels = np.where(core, labels, -1)
    # DBSCAN border: a non-core face joins the cluster of its most similar core neighbour
    if target.shape[1]:  # a lone face has no neighbour at all
        to_core = np.where(valid & core[target], found.similarity, -np.inf)
        best = np.argmax(to_core, axis=1)
        border = ~core & np.isfinite(to_core[np.arange(n), best])
        labels[border] = labels[target[border, best[border]]]
    clusters = []
    order = np.argsort(labels, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)
    for members in groups:
        if labels[members[0]] < 0:
            continue
        kept = _one_face_per_image(unit, members, sources)
        if len(kept) >= min_faces:
            clusters.append(Cluster(members=kept))
    clusters.sort(key=lambda c: (-len(c.members), c.members[0]))
    return clusters


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
