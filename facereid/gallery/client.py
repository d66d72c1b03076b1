"""``GalleryServiceClient``: the API process's typed client of the gallery store service
(``runners/gallery.py``). Each method is one store API: arguments typed, vectors as numpy
arrays, the reply unwrapped into its result or the store's own error. A store that does not
answer in time, or not at all, is 503 ``gallery_unavailable``, never a 500.

The BentoML dependency handle comes in from ``runners/gallery_api.py`` (anything with
``to_async``), so this module imports no BentoML and tests use ``InProcessGallery``'s
``GalleryOperations`` directly behind the same protocol (``facereid.wire.clients``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import numpy as np

from facereid.config import Settings
from facereid.gallery.errors import GalleryUnavailableError
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
)

T = TypeVar("T")


class GalleryServiceClient:
    def __init__(self, settings: Settings, store: Any) -> None:
        self.settings = settings
        self.store = store  # a bentoml.depends(GalleryStoreService) handle

    async def _call(self, call: Callable[[], Awaitable[Reply[T]]], timeout: float = 0) -> T:
        try:
            answer = await asyncio.wait_for(call(), timeout or self.settings.gallery_timeout_s)
        except TimeoutError as exc:
            raise GalleryUnavailableError("the gallery store did not answer in time") from exc
        except Exception as exc:  # store service down or restarting: 503, not 500
            raise GalleryUnavailableError(
                f"gallery store not reachable: {type(exc).__name__}"
            ) from exc
        return answer.unwrap()

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
        api = self.store.to_async.enroll
        return await self._call(
            lambda: api(
                tenant=tenant,
                gallery=gallery,
                model=model,
                vectors=vectors,
                subjects=subjects,
                metadata=metadata,
                sources=sources,
            )
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
        api = self.store.to_async.search
        return await self._call(
            lambda: api(
                tenant=tenant,
                gallery=gallery,
                model=model,
                vectors=vectors,
                top_k=top_k,
                threshold=threshold,
            )
        )

    async def subjects(
        self, tenant: str, gallery: str, limit: int, after: str | None
    ) -> SubjectsPage:
        api = self.store.to_async.subjects
        return await self._call(
            lambda: api(tenant=tenant, gallery=gallery, limit=limit, after=after)
        )

    async def faces(
        self, tenant: str, gallery: str, subject: str | None, limit: int, after: str | None
    ) -> FacesPage:
        api = self.store.to_async.faces
        return await self._call(
            lambda: api(tenant=tenant, gallery=gallery, subject=subject, limit=limit, after=after)
        )

    async def export(
        self, tenant: str, gallery: str, subject: str, limit: int, after: str | None, vectors: bool
    ) -> ExportPage:
        api = self.store.to_async.export
        return await self._call(
            lambda: api(
                tenant=tenant,
                gallery=gallery,
                subject=subject,
                limit=limit,
                after=after,
                vectors=vectors,
            )
        )

    async def delete(
        self, tenant: str, gallery: str, face_id: str | None, subject: str | None
    ) -> Erased:
        # an erasure rebuilds the gallery's index (docs/privacy.md): the long timeout
        api = self.store.to_async.delete
        return await self._call(
            lambda: api(tenant=tenant, gallery=gallery, face_id=face_id, subject=subject),
            timeout=self.settings.gallery_cluster_timeout_s,
        )

    async def rename(
        self, tenant: str, gallery: str, subject: str, new_subject: str
    ) -> RenameResponse:
        api = self.store.to_async.rename
        return await self._call(
            lambda: api(tenant=tenant, gallery=gallery, subject=subject, new_subject=new_subject)
        )

    async def assign(
        self, tenant: str, gallery: str, face_ids: list[str], subject: str
    ) -> AssignResponse:
        api = self.store.to_async.assign
        return await self._call(
            lambda: api(tenant=tenant, gallery=gallery, face_ids=face_ids, subject=subject)
        )

    async def drop(self, tenant: str, gallery: str) -> DropResponse:
        api = self.store.to_async.drop
        return await self._call(
            lambda: api(tenant=tenant, gallery=gallery),
            timeout=self.settings.gallery_cluster_timeout_s,
        )

    async def retention(
        self, tenant: str, gallery: str, retention_days: float | None
    ) -> RetentionResponse:
        api = self.store.to_async.retention
        return await self._call(
            lambda: api(tenant=tenant, gallery=gallery, retention_days=retention_days)
        )

    async def expire(self) -> Expired:
        api = self.store.to_async.expire
        return await self._call(lambda: api(), timeout=self.settings.gallery_cluster_timeout_s)

    async def erase_tenant(self, tenant: str) -> TenantErased:
        api = self.store.to_async.erase_tenant
        return await self._call(
            lambda: api(tenant=tenant), timeout=self.settings.gallery_cluster_timeout_s
        )

    async def info(self, tenant: str, gallery: str) -> GalleryModel:
        api = self.store.to_async.info
        return await self._call(lambda: api(tenant=tenant, gallery=gallery))

    async def list_galleries(self, tenant: str) -> ListResponse:
        api = self.store.to_async.list_galleries
        return await self._call(lambda: api(tenant=tenant))

    async def cluster(
        self, tenant: str, gallery: str, min_faces: int, threshold: float | None
    ) -> ClusterResponse:
        # clustering is O(n k) in memory but still minutes at 50k faces on 2 cores
        api = self.store.to_async.cluster
        return await self._call(
            lambda: api(tenant=tenant, gallery=gallery, min_faces=min_faces, threshold=threshold),
            timeout=self.settings.gallery_cluster_timeout_s,
        )
