"""What each gallery route does to the store; runs inside the store service's process.

Arguments arrive validated (facereid.gallery.requests) and vectors as little-endian float32
base64 blobs, so a 1,000 x 512 batch crosses the process boundary as 2.7 MB, not 10 MB of
JSON floats. Results are plain JSON-able dicts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from facereid.gallery.clustering import cluster_faces
from facereid.gallery.errors import InvalidGalleryRequestError
from facereid.gallery.store import GalleryStore
from facereid.matching.similarity import decode_float32_b64

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.45  # ArcFace-family cosine verification threshold (deepface, buffalo_l)


def threshold_for(model: str, thresholds: Mapping[str, float]) -> float:
    """The same-person threshold of an embedding model: configured for the exact model id,
    else for its engine (the part before the first '/': "dlib/...", "insightface/...")."""
    if model in thresholds:
        return thresholds[model]
    return thresholds.get(model.split("/", 1)[0], DEFAULT_THRESHOLD)


def decode_matrix(blob: str, dim: int) -> np.ndarray:
    flat = decode_float32_b64(blob, name="vectors")
    if dim < 1 or flat.size % dim:
        raise InvalidGalleryRequestError(f"{flat.size} values do not split into rows of {dim}")
    return flat.reshape(-1, dim)


class GalleryOperations:
    def __init__(
        self,
        store: GalleryStore,
        thresholds: Mapping[str, float],
        search_ef: int = 256,
        max_cluster_faces: int = 50_000,
    ) -> None:
        self.store = store
        self.thresholds = dict(thresholds)
        self.search_ef = search_ef
        self.max_cluster_faces = max_cluster_faces

    def enroll(
        self,
        tenant: str,
        gallery: str,
        model: str,
        vectors: str,
        dim: int,
        subjects: list[str | None],
        metadata: list[dict[str, Any]],
        sources: list[str],
    ) -> dict[str, Any]:
        matrix = decode_matrix(vectors, dim)
        ids = self.store.enroll(tenant, gallery, model, matrix, subjects, metadata, sources)
        return {"face_ids": ids}

    def search(
        self,
        tenant: str,
        gallery: str,
        model: str,
        vectors: str,
        dim: int,
        top_k: int,
        threshold: float | None,
    ) -> dict[str, Any]:
        cut = threshold_for(model, self.thresholds) if threshold is None else threshold
        hits = self.store.search(
            tenant, gallery, model, decode_matrix(vectors, dim), top_k, self.search_ef
        )
        results = [[m for m in per if m["similarity"] >= cut] for per in hits]
        return {"results": results, "threshold": cut}

    def subjects(self, tenant: str, gallery: str, limit: int, after: str | None) -> dict[str, Any]:
        counts = self.store.subject_counts(tenant, gallery)
        names = sorted(s for s in counts if after is None or s > after)
        page = names[:limit]
        return {
            "subjects": [{"subject": s, "faces": counts[s]} for s in page],
            "next": page[-1] if len(names) > limit else None,
        }

    def faces(
        self, tenant: str, gallery: str, subject: str | None, limit: int, after: str | None
    ) -> dict[str, Any]:
        ids = [
            i for i in self.store.face_ids(tenant, gallery, subject) if after is None or i > after
        ]
        page = ids[:limit]
        fields = ["face_id", "subject", "metadata", "created_at"]
        rows = {r["face_id"]: r for r in self.store.get_faces(tenant, gallery, page, fields)}
        faces = [
            {
                "face_id": i,
                "subject": rows[i]["subject"] or None,
                "metadata": rows[i]["metadata"] or {},
                "created_at": _iso(int(rows[i]["created_at"])),
            }
            for i in page
            if i in rows
        ]
        return {"faces": faces, "next": page[-1] if len(ids) > limit else None}

    def export(
        self, tenant: str, gallery: str, subject: str, limit: int, after: str | None, vectors: bool
    ) -> dict[str, Any]:
        """A subject's faces with everything held about them (a data subject's access and
        portability request, docs/privacy.md); their vectors when asked."""
        info = self.store.gallery_info(tenant, gallery)
        ids = [
            i for i in self.store.face_ids(tenant, gallery, subject) if after is None or i > after
        ]
        page = ids[:limit]
        fields = ["face_id", "subject", "source", "metadata", "created_at"]
        fields += ["vector"] if vectors else []
        rows = {r["face_id"]: r for r in self.store.get_faces(tenant, gallery, page, fields)}
        dim = int(info["dim"])
        faces = []
        for i in page:
            if i not in rows:
                continue
            row = rows[i]
            face = {
                "face_id": i,
                "subject": row["subject"] or None,
                "metadata": row["metadata"] or {},
                "created_at": _iso(int(row["created_at"])),
                "source": row["source"],
            }
            if vectors:
                face["embedding"] = [float(v) for v in row["vector"][:dim]]
            faces.append(face)
        return {
            "embedding_model": info["embedding_model"],
            "faces": faces,
            "next": page[-1] if len(ids) > limit else None,
        }

    def delete(
        self, tenant: str, gallery: str, face_id: str | None, subject: str | None
    ) -> dict[str, Any]:
        """Erased down to the disk before it answers; ``face_ids`` (the ones erased) is for
        the API service's redaction of video results and never reaches the caller."""
        ids = [face_id] if face_id is not None else self.store.face_ids(tenant, gallery, subject)
        if face_id is not None:
            self.store.gallery_info(tenant, gallery)
        erased = self.store.delete_faces(tenant, gallery, ids)
        return {"deleted": len(erased), "face_ids": erased}

    def rename(self, tenant: str, gallery: str, subject: str, new_subject: str) -> dict[str, Any]:
        ids = self.store.face_ids(tenant, gallery, subject)
        merged = new_subject in self.store.subject_counts(tenant, gallery)
        renamed = self.store.set_subject(tenant, gallery, ids, new_subject)
        return {"renamed": renamed, "merged": merged and renamed > 0}

    def assign(
        self, tenant: str, gallery: str, face_ids: list[str], subject: str
    ) -> dict[str, Any]:
        self.store.gallery_info(tenant, gallery)
        return {"assigned": self.store.set_subject(tenant, gallery, face_ids, subject)}

    def drop(self, tenant: str, gallery: str) -> dict[str, Any]:
        return {"dropped": gallery, "deleted": self.store.drop(tenant, gallery)}

    def erase_tenant(self, tenant: str) -> dict[str, Any]:
        return self.store.erase_tenant(tenant)

    def info(self, tenant: str, gallery: str) -> dict[str, Any]:
        """One gallery's model, without counting faces (/video/submit's existence check)."""
        info = self.store.gallery_info(tenant, gallery)
        return {
            "gallery": gallery,
            "embedding_model": info["embedding_model"],
            "dim": int(info["dim"]),
        }

    def list(self, tenant: str) -> dict[str, Any]:
        return {"galleries": self.store.list_galleries(tenant)}

    def cluster(
        self, tenant: str, gallery: str, min_faces: int, threshold: float | None
    ) -> dict[str, Any]:
        info = self.store.gallery_info(tenant, gallery)
        cut = (
            threshold_for(info["embedding_model"], self.thresholds)
            if threshold is None
            else threshold
        )
        rows = self.store.scan(tenant, gallery, ["face_id", "source", "vector"], subject="")
        if len(rows) > self.max_cluster_faces:
            raise InvalidGalleryRequestError(
                f"{len(rows)} unnamed faces; clustering takes at most {self.max_cluster_faces}"
            )
        if not rows:
            return {"clusters": [], "unclustered": 0, "threshold": cut}
        dim = int(info["dim"])
        vectors = np.asarray([r["vector"][:dim] for r in rows], dtype=np.float32)
        clusters = cluster_faces(vectors, [str(r["source"]) for r in rows], cut, min_faces)
        payload = [
            {
                "cluster_id": str(rows[c.members[0]]["face_id"]),  # its most central face
                "face_ids": [str(rows[i]["face_id"]) for i in c.members],
                "size": len(c.members),
            }
            for c in clusters
        ]
        clustered = sum(len(c.members) for c in clusters)
        return {"clusters": payload, "unclustered": len(rows) - clustered, "threshold": cut}


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )
