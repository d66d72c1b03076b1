"""Naming a video's identities from a gallery (``/video/submit``'s ``gallery``, docs/video.md).

A finished job's identities are searched in the gallery of the job's tenant, each by its mean
embedding, top 1 above the gallery's per-model threshold. The lookup is injected
(``GalleryLookup``), so the pipeline has no BentoML in it and a test can pass a plain function;
``store_lookup`` builds the real one over a ``GalleryClient``.

A gallery failure at that point (the gallery was dropped, it holds another model's
embeddings, the store did not answer) does not fail the job: hours of decoding are not thrown
away for a name lookup. The result carries ``gallery_error`` instead, and every identity's
``subject`` stays null.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from facereid.errors import FaceReIDError
from facereid.gallery.errors import GalleryUnavailableError
from facereid.gallery.schemas import GalleryMatch
from facereid.wire.clients import GalleryClient

logger = logging.getLogger(__name__)

# Query rows per store call: far below Milvus's own limit on query vectors per search.
_ROWS_PER_CALL = 256


@dataclass
class GalleryMatches:
    """The best match of each query row (``None`` below the threshold) and that threshold."""

    matches: list[GalleryMatch | None]
    threshold: float


# (tenant, gallery, embedding_model, L2-normalised rows) -> one best match per row
GalleryLookup = Callable[[str, str, str, np.ndarray], Awaitable[GalleryMatches]]
# (tenant, gallery) -> None, or raises GalleryNotFoundError
GalleryCheck = Callable[[str, str], Awaitable[None]]


def store_check(store: GalleryClient) -> GalleryCheck:
    """Whether a tenant's gallery exists; another tenant's is answered as unknown (404)."""

    async def check(tenant: str, gallery: str) -> None:
        await store.info(tenant, gallery)

    return check


def store_lookup(store: GalleryClient) -> GalleryLookup:
    """Top-1 search of every row, several rows per store call."""

    async def lookup(tenant: str, gallery: str, model: str, rows: np.ndarray) -> GalleryMatches:
        matches: list[GalleryMatch | None] = []
        threshold = 0.0
        for start in range(0, len(rows), _ROWS_PER_CALL):
            chunk = rows[start : start + _ROWS_PER_CALL]
            # threshold None: the gallery's threshold for this model
            result = await store.search(tenant, gallery, model, chunk, 1, None)
            threshold = result.threshold
            matches.extend(per[0] if per else None for per in result.results)
        return GalleryMatches(matches, threshold)

    return lookup


async def name_identities(
    lookup: GalleryLookup | None,
    tenant: str,
    gallery: str,
    model: str,
    rows: np.ndarray,
    identities: list[dict[str, Any]],
) -> dict[str, Any]:
    """Sets ``subject``, ``similarity`` and ``gallery_face_id`` on each identity (null when
    it matched no face); answers the result's gallery fields."""
    for identity in identities:
        identity.update({"subject": None, "similarity": None, "gallery_face_id": None})
    fields: dict[str, Any] = {"gallery": gallery, "gallery_threshold": None}
    try:
        if lookup is None:
            raise GalleryUnavailableError("this server has no gallery store")
        if not identities:
            return fields
        found = await lookup(tenant, gallery, model, rows)
    except FaceReIDError as exc:
        logger.info("video gallery lookup in %r failed: %s", gallery, exc.code)
        fields["gallery_error"] = {"code": exc.code, "message": exc.message}
        return fields
    fields["gallery_threshold"] = found.threshold
    for identity, match in zip(identities, found.matches, strict=True):
        if match is not None:
            identity["subject"] = match.subject
            identity["similarity"] = round(match.similarity, 6)
            identity["gallery_face_id"] = match.face_id
    return fields
