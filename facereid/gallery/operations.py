"""What each gallery route does to the store; runs inside the store service's process.

Arguments arrive validated (facereid.gallery.requests), vectors as float32 numpy arrays
(BentoML pickles them: a 1,000 x 512 batch crosses the process boundary as its 2 MB of
floats). Results are the typed records of ``facereid.wire.gallery``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

from facereid.gallery.clustering import cluster_faces
from facereid.gallery.errors import InvalidGalleryRequestError
from facereid.gallery.schemas import (
    AssignResponse,
    Cluster,
    ClusterResponse,
    DropResponse,
    GalleryFace,
    GalleryInfo,
    GalleryMatch,
    ListResponse,
    Metadata,
    RenameResponse,
    RetentionResponse,
    SubjectCount,
)
from facereid.gallery.store import GalleryStore
from facereid.wire.gallery import (
    Enrolled,
    Erased,
    Expired,
    ExpiredFaces,
    ExportFace,
    ExportPage,
    FacesPage,
    GalleryModel,
    Searched,
    SubjectsPage,
    TenantErased,
)

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.45  # ArcFace-family cosine verification threshold (deepface, buffalo_l)


def threshold_for(model: str, thresholds: Mapping[str, float]) -> float:
    """The same-person threshold of an embedding model: configured for the exact model id,
    else for its engine (the part before the first '/': "dlib/...", "insightface/...")."""
    if model in thresholds:
        return thresholds[model]
    return thresholds.get(model.split("/", 1)[0], DEFAULT_THRESHOLD)


def as_matrix(vectors: np.ndarray) -> np.ndarray:
    """Rows of float32, whatever crossed the boundary (a pickled array is not trusted)."""
    if not isinstance(vectors, np.ndarray) or vectors.ndim != 2 or vectors.shape[1] < 1:
        raise InvalidGalleryRequestError("vectors must be a 2-D array of embeddings")
    return np.ascontiguousarray(vectors, dtype=np.float32)


class GalleryOperations:
    def __init__(
        self,
        store: GalleryStore,
        thresholds: Mapping[str, float],
        search_ef: int = 256,
        max_cluster_faces: int = 50_000,
        retention_days: float = 1095.0,
    ) -> None:
        self.store = store
        self.retention_days = retention_days  # GALLERY_RETENTION_DAYS: a gallery's default
        self.thresholds = dict(thresholds)
        self.search_ef = search_ef
        self.max_cluster_faces = max_cluster_faces

    def enroll(
        self,
        tenant: str,
        gallery: str,
        model: str,
        vectors: np.ndarray,
        subjects: list[str | None],
        metadata: list[Metadata],
        sources: list[str],
    ) -> Enrolled:
        matrix = as_matrix(vectors)
        ids = self.store.enroll(tenant, gallery, model, matrix, subjects, metadata, sources)
        return Enrolled(face_ids=ids)

    def search(
        self,
        tenant: str,
        gallery: str,
        model: str,
        vectors: np.ndarray,
        top_k: int,
        threshold: float | None,
    ) -> Searched:
        cut = threshold_for(model, self.thresholds) if threshold is None else threshold
        hits = self.store.search(tenant, gallery, model, as_matrix(vectors), top_k, self.search_ef)
        results = [[GalleryMatch(**m) for m in per if m["similarity"] >= cut] for per in hits]
        return Searched(results=results, threshold=cut)

    def subjects(self, tenant: str, gallery: str, limit: int, after: str | None) -> SubjectsPage:
        counts = self.store.subject_counts(tenant, gallery)
        names = sorted(s for s in counts if after is None or s > after)
        page = names[:limit]
        return SubjectsPage(
            subjects=[SubjectCount(subject=s, faces=counts[s]) for s in page],
            next=page[-1] if len(names) > limit else None,
        )

    def faces(
        self, tenant: str, gallery: str, subject: str | None, limit: int, after: str | None
    ) -> FacesPage:
        ids = [
            i for i in self.store.face_ids(tenant, gallery, subject) if after is None or i > after
        ]
        page = ids[:limit]
        fields = ["face_id", "subject", "metadata", "created_at"]
        rows = {r["face_id"]: r for r in self.store.get_faces(tenant, gallery, page, fields)}
        faces = [
            GalleryFace(
                face_id=i,
                subject=rows[i]["subject"] or None,
                metadata=rows[i]["metadata"] or {},
                created_at=_iso(int(rows[i]["created_at"])),
            )
            for i in page
            if i in rows
        ]
        return FacesPage(faces=faces, next=page[-1] if len(ids) > limit else None)

    def export(
        self, tenant: str, gallery: str, subject: str, limit: int, after: str | None, vectors: bool
    ) -> ExportPage:
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
        faces = [
            ExportFace(
                face_id=i,
                subject=rows[i]["subject"] or None,
                metadata=rows[i]["metadata"] or {},
                created_at=_iso(int(rows[i]["created_at"])),
                source=rows[i]["source"],
                embedding=[float(v) for v in rows[i]["vector"][:dim]] if vectors else None,
            )
            for i in page
            if i in rows
        ]
        next_after = page[-1] if len(ids) > limit else None
        return ExportPage(embedding_model=info["embedding_model"], faces=faces, next=next_after)

    def delete(self, tenant: str, gallery: str, face_id: str | None, subject: str | None) -> Erased:
        """Erased down to the disk before it answers (facereid/gallery/erasure.py)."""
        ids = [face_id] if face_id is not None else self.store.face_ids(tenant, gallery, subject)
        if face_id is not None:
            self.store.gallery_info(tenant, gallery)
        erased = self.store.delete_faces(tenant, gallery, ids)
        return Erased(deleted=len(erased), face_ids=erased)

    def rename(self, tenant: str, gallery: str, subject: str, new_subject: str) -> RenameResponse:
        ids = self.store.face_ids(tenant, gallery, subject)
        merged = new_subject in self.store.subject_counts(tenant, gallery)
        renamed = self.store.set_subject(tenant, gallery, ids, new_subject)
        return RenameResponse(renamed=renamed, merged=merged and renamed > 0)

    def assign(
        self, tenant: str, gallery: str, face_ids: list[str], subject: str
    ) -> AssignResponse:
        self.store.gallery_info(tenant, gallery)
        return AssignResponse(assigned=self.store.set_subject(tenant, gallery, face_ids, subject))

    def drop(self, tenant: str, gallery: str) -> DropResponse:
        return DropResponse(dropped=gallery, deleted=self.store.drop(tenant, gallery))

    def retention(self, tenant: str, gallery: str, days: float | None) -> RetentionResponse:
        """Sets (or, with None, removes) the gallery's own retention; the sweeper honours it."""
        own = self.store.set_retention(tenant, gallery, days)
        return RetentionResponse(
            gallery=gallery, retention_days=own, effective_days=self._effective(own)
        )

    def _effective(self, own: float | None) -> float:
        return self.retention_days if own is None else own

    def erase_tenant(self, tenant: str) -> TenantErased:
        return TenantErased(**self.store.erase_tenant(tenant))

    def expire(self, now_ms: int) -> Expired:
        """Erase the faces past their gallery's retention (GALLERY_RETENTION_DAYS by default)."""
        erased = self.store.expire_faces(now_ms, self.retention_days)
        return Expired(
            galleries=[ExpiredFaces(tenant=t, gallery=g, face_ids=ids) for t, g, ids in erased]
        )

    def info(self, tenant: str, gallery: str) -> GalleryModel:
        """One gallery's model, without counting faces (/video/submit's existence check)."""
        info = self.store.gallery_info(tenant, gallery)
        return GalleryModel(
            gallery=gallery, embedding_model=info["embedding_model"], dim=int(info["dim"])
        )

    def list(self, tenant: str) -> ListResponse:
        galleries = [
            GalleryInfo(**{**g, "retention_days": self._effective(g["retention_days"])})
            for g in self.store.list_galleries(tenant)
        ]
        return ListResponse(galleries=galleries)

    def cluster(
        self, tenant: str, gallery: str, min_faces: int, threshold: float | None
    ) -> ClusterResponse:
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
            return ClusterResponse(clusters=[], unclustered=0, threshold=cut)
        dim = int(info["dim"])
        vectors = np.asarray([r["vector"][:dim] for r in rows], dtype=np.float32)
        clusters = cluster_faces(vectors, [str(r["source"]) for r in rows], cut, min_faces)
        payload = [
            Cluster(
                cluster_id=str(rows[c.members[0]]["face_id"]),  # its most central face
                face_ids=[str(rows[i]["face_id"]) for i in c.members],
                size=len(c.members),
            )
            for c in clusters
        ]
        clustered = sum(len(c.members) for c in clusters)
        return ClusterResponse(clusters=payload, unclustered=len(rows) - clustered, threshold=cut)


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )
