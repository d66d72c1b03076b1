"""GalleryStore: the one process that owns the gallery store (docs/gallery.md).

An embedded Chroma folder belongs to one process, so the store lives in this one-worker service
and the API service reaches it through ``bentoml.depends``; with ``GALLERY_URI`` set, the same
client talks to a Chroma server instead. Each operation of ``facereid.gallery.operations`` is
one typed API answering ``Reply[Result]`` (``facereid.wire.gallery``): the store's errors
(unknown gallery, model mismatch) must reach the caller with their codes, and a raised
exception would cross the process boundary as a bare 500.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import bentoml
import numpy as np

from facereid.config import get_settings
from facereid.gallery.errors import (
    GalleryBusyError,
    GalleryUnavailableError,
    InvalidGalleryRequestError,
)
from facereid.gallery.schemas import (
    AssignResponse,
    ClusterResponse,
    DropResponse,
    ListResponse,
    Metadata,
    RenameResponse,
    RetentionResponse,
)
from facereid.wire.errors import error_to_wire
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
from runners.media_types import answer_media_types

logger = logging.getLogger(__name__)
T = TypeVar("T")


def store_uri(data_dir: str, gallery_uri: str | None) -> str:
    if gallery_uri:
        return gallery_uri
    folder = Path(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder.resolve() / "gallery.chroma")  # an embedded Chroma folder


# Threads: BentoML runs a sync API on a limiter of ``threads`` (default 1), so one tenant's
# long clustering once queued every other tenant's short reads behind it (issue 21: 2.55 s for
# a /gallery/list during a 20k cluster, 503 at 50k). Chroma's client is thread-safe; writes that
# must be atomic take the store's lock, and at most one clustering runs at a time (others get
# 429 gallery_busy at once), so three threads are always left for short operations.
STORE_THREADS = 4


# Erasure (issue 22, docs/privacy.md): hnswlib mallocs a new index's element array and Chroma
# writes all of it to disk, so heap memory this process freed (erased names, vectors, log
# records) could land in a new HNSW file. glibc's perturb fills every freed block (and every
# new one) with a fixed byte, so no freed data is left to land anywhere. This process only
# (BentoML gives a dependency service's worker its own environment).
ERASURE_ENV = {"name": "GLIBC_TUNABLES", "value": "glibc.malloc.perturb=165", "stage": "runtime"}


@answer_media_types
@bentoml.service(
    name="GalleryStore",
    workers=1,
    threads=STORE_THREADS,
    traffic={"timeout": 600},
    envs=[ERASURE_ENV],
)
class GalleryStoreService:
    def __init__(self) -> None:
        from facereid.gallery.operations import GalleryOperations
        from facereid.gallery.store import GalleryStore

        settings = get_settings()
        uri = store_uri(settings.data_dir, settings.gallery_uri)
        store = GalleryStore(
            uri,
            dim=settings.gallery_dim,
            hnsw_m=settings.gallery_hnsw_m,
            ef_construction=settings.gallery_hnsw_ef_construction,
            search_ef=settings.gallery_search_ef,
            token=settings.gallery_token,
            max_galleries=settings.gallery_max_galleries_per_tenant,
            max_faces=settings.gallery_max_faces_per_tenant,
            server_folder=settings.gallery_server_data_dir,
        )
        self.operations = GalleryOperations(
            store,
            settings.gallery_thresholds,
            search_ef=settings.gallery_search_ef,
            max_cluster_faces=settings.gallery_max_cluster_faces,
            retention_days=settings.gallery_retention_days,
        )
        self._clustering = threading.Lock()
        logger.info("gallery store open at %s", uri if settings.gallery_uri else "DATA_DIR")

    # One API per operation, typed (facereid.wire.gallery): arguments as parameters, vectors
    # as numpy arrays, answers as Reply[Result]; a refusal is the reply's error, never a 500.

    @bentoml.api
    def enroll(
        self,
        tenant: str,
        gallery: str,
        model: str,
        vectors: np.ndarray,
        subjects: list[str | None],
        metadata: list[Metadata],
        sources: list[str],
    ) -> Reply[Enrolled]:
        ops = self.operations
        return self._run(
            Reply[Enrolled],
            "enroll",
            lambda: ops.enroll(tenant, gallery, model, vectors, subjects, metadata, sources),
        )

    @bentoml.api
    def search(
        self,
        tenant: str,
        gallery: str,
        model: str,
        vectors: np.ndarray,
        top_k: int,
        threshold: float | None,
    ) -> Reply[Searched]:
        ops = self.operations
        return self._run(
            Reply[Searched],
            "search",
            lambda: ops.search(tenant, gallery, model, vectors, top_k, threshold),
        )

    @bentoml.api
    def subjects(
        self, tenant: str, gallery: str, limit: int, after: str | None
    ) -> Reply[SubjectsPage]:
        run = partial(self.operations.subjects, tenant, gallery, limit, after)
        return self._run(Reply[SubjectsPage], "subjects", run)

    @bentoml.api
    def faces(
        self, tenant: str, gallery: str, subject: str | None, limit: int, after: str | None
    ) -> Reply[FacesPage]:
        run = partial(self.operations.faces, tenant, gallery, subject, limit, after)
        return self._run(Reply[FacesPage], "faces", run)

    @bentoml.api
    def export(
        self, tenant: str, gallery: str, subject: str, limit: int, after: str | None, vectors: bool
    ) -> Reply[ExportPage]:
        run = partial(self.operations.export, tenant, gallery, subject, limit, after, vectors)
        return self._run(Reply[ExportPage], "export", run)

    @bentoml.api
    def delete(
        self, tenant: str, gallery: str, face_id: str | None, subject: str | None
    ) -> Reply[Erased]:
        run = partial(self.operations.delete, tenant, gallery, face_id, subject)
        return self._run(Reply[Erased], "delete", run)

    @bentoml.api
    def rename(
        self, tenant: str, gallery: str, subject: str, new_subject: str
    ) -> Reply[RenameResponse]:
        run = partial(self.operations.rename, tenant, gallery, subject, new_subject)
        return self._run(Reply[RenameResponse], "rename", run)

    @bentoml.api
    def assign(
        self, tenant: str, gallery: str, face_ids: list[str], subject: str
    ) -> Reply[AssignResponse]:
        run = partial(self.operations.assign, tenant, gallery, face_ids, subject)
        return self._run(Reply[AssignResponse], "assign", run)

    @bentoml.api
    def drop(self, tenant: str, gallery: str) -> Reply[DropResponse]:
        run = partial(self.operations.drop, tenant, gallery)
        return self._run(Reply[DropResponse], "drop", run)

    @bentoml.api
    def retention(
        self, tenant: str, gallery: str, retention_days: float | None
    ) -> Reply[RetentionResponse]:
        run = partial(self.operations.retention, tenant, gallery, retention_days)
        return self._run(Reply[RetentionResponse], "retention", run)

    @bentoml.api
    def expire(self) -> Reply[Expired]:
        """Retention: the faces past their gallery's retention, erased by the same path as a
        delete; the API service's sweeper calls it (runners/gallery_api.py)."""
        run = partial(self.operations.expire, int(time.time() * 1000))
        return self._run(Reply[Expired], "expire", run)

    @bentoml.api
    def erase_tenant(self, tenant: str) -> Reply[TenantErased]:
        return self._run(
            Reply[TenantErased], "erase_tenant", partial(self.operations.erase_tenant, tenant)
        )

    @bentoml.api
    def info(self, tenant: str, gallery: str) -> Reply[GalleryModel]:
        run = partial(self.operations.info, tenant, gallery)
        return self._run(Reply[GalleryModel], "info", run)

    @bentoml.api
    def list_galleries(self, tenant: str) -> Reply[ListResponse]:
        run = partial(self.operations.list, tenant)
        return self._run(Reply[ListResponse], "list", run)

    @bentoml.api
    def cluster(
        self, tenant: str, gallery: str, min_faces: int, threshold: float | None
    ) -> Reply[ClusterResponse]:
        def run() -> ClusterResponse:
            if not self._clustering.acquire(blocking=False):
                raise GalleryBusyError("a clustering is running; retry when it has finished")
            try:
                return self.operations.cluster(tenant, gallery, min_faces, threshold)
            finally:
                self._clustering.release()

        return self._run(Reply[ClusterResponse], "cluster", run)

    def _run(self, kind: type[Reply[T]], operation: str, run: Callable[[], T]) -> Reply[T]:
        """The operation's reply: its result, its own refusal, or, for anything else, 503
        with the traceback in this service's log (never in the answer)."""
        try:
            return reply(kind, run)
        except Exception as exc:
            # imported here: every service process imports this module (BentoML imports
            # service.py in each one), and chromadb costs ~0.6 CPU-s that only this one needs
            from chromadb.errors import ChromaError

            if isinstance(exc, ChromaError) and exc.code() < 500:  # the request's own fault
                logger.warning(
                    "gallery operation %s refused by the engine: %s", operation, exc.name()
                )
                refusal = InvalidGalleryRequestError("the gallery store refused the request")
                return kind(error=error_to_wire(refusal))
            logger.exception("gallery operation %s failed", operation)
            failure = GalleryUnavailableError("the gallery store failed; see its log")
            return kind(error=error_to_wire(failure))
