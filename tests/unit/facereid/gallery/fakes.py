"""``InProcessGallery``: the ``GalleryClient`` protocol over real ``GalleryOperations`` in this
process, each answer passed through its ``Reply`` as the store service sends it, so errors
come back by their codes exactly as across the process boundary."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from facereid.gallery.operations import GalleryOperations
from facereid.gallery.schemas import (
    AssignResponse,
    ClusterResponse,
    DropResponse,
    ListResponse,
    Metadata,
    RenameResponse,
    RetentionResponse,
)
from facereid.wire.gallery import (
    Enrolled,
    Erased,
    Expired,
    ExportPage,
    FacesPage,
    GalleryModel,
    Reply,
    Searched,
    SubjectsPage,
    TenantErased,
    reply,
)

T = TypeVar("T")


def _through(kind: type[Reply[T]], run: Callable[[], T]) -> T:
    return kind.model_validate(reply(kind, run).model_dump()).unwrap()


class InProcessGallery:
    def __init__(self, ops: GalleryOperations) -> None:
        self.ops = ops
        self.calls: list[str] = []

    async def enroll(
        self,
        tenant: str,
        gallery: str,
        model: str,
        vectors: np.ndarray,
        subjects: list[str | None],
        metadata: list[Metadata],
        sources: list[str],
    ) -> Enrolled:
        self.calls.append("enroll")
        return _through(
            Reply[Enrolled],
            lambda: self.ops.enroll(tenant, gallery, model, vectors, subjects, metadata, sources),
        )

    async def search(
        self,
        tenant: str,
        gallery: str,
        model: str,
        vectors: np.ndarray,
        top_k: int,
        threshold: float | None,
    ) -> Searched:
        self.calls.append("search")
        return _through(
            Reply[Searched],
            lambda: self.ops.search(tenant, gallery, model, vectors, top_k, threshold),
        )

    async def subjects(
        self, tenant: str, gallery: str, limit: int, after: str | None
    ) -> SubjectsPage:
        return _through(
            Reply[SubjectsPage], lambda: self.ops.subjects(tenant, gallery, limit, after)
        )

    async def faces(
        self, tenant: str, gallery: str, subject: str | None, limit: int, after: str | None
    ) -> FacesPage:
        return _through(
            Reply[FacesPage], lambda: self.ops.faces(tenant, gallery, subject, limit, after)
        )

    async def export(
        self, tenant: str, gallery: str, subject: str, limit: int, after: str | None, vectors: bool
    ) -> ExportPage:
        return _through(
            Reply[ExportPage],
            lambda: self.ops.export(tenant, gallery, subject, limit, after, vectors),
        )

    async def delete(
        self, tenant: str, gallery: str, face_id: str | None, subject: str | None
    ) -> Erased:
        return _through(Reply[Erased], lambda: self.ops.delete(tenant, gallery, face_id, subject))

    async def rename(
        self, tenant: str, gallery: str, subject: str, new_subject: str
    ) -> RenameResponse:
        return _through(
            Reply[RenameResponse], lambda: self.ops.rename(tenant, gallery, subject, new_subject)
        )

    async def assign(
        self, tenant: str, gallery: str, face_ids: list[str], subject: str
    ) -> AssignResponse:
        return _through(
            Reply[AssignResponse], lambda: self.ops.assign(tenant, gallery, face_ids, subject)
        )

    async def drop(self, tenant: str, gallery: str) -> DropResponse:
        return _through(Reply[DropResponse], lambda: self.ops.drop(tenant, gallery))

    async def retention(
        self, tenant: str, gallery: str, retention_days: float | None
    ) -> RetentionResponse:
        return _through(
            Reply[RetentionResponse], lambda: self.ops.retention(tenant, gallery, retention_days)
        )

    async def erase_tenant(self, tenant: str) -> TenantErased:
        return _through(Reply[TenantErased], lambda: self.ops.erase_tenant(tenant))

    async def expire(self) -> Expired:
        return _through(Reply[Expired], lambda: self.ops.expire(int(time.time() * 1000)))

    async def info(self, tenant: str, gallery: str) -> GalleryModel:
        self.calls.append("info")
        return _through(Reply[GalleryModel], lambda: self.ops.info(tenant, gallery))

    async def list_galleries(self, tenant: str) -> ListResponse:
        return _through(Reply[ListResponse], lambda: self.ops.list(tenant))

    async def cluster(
        self, tenant: str, gallery: str, min_faces: int, threshold: float | None
    ) -> ClusterResponse:
        return _through(
            Reply[ClusterResponse],
            lambda: self.ops.cluster(tenant, gallery, min_faces, threshold),
        )
