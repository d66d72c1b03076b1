"""GalleryStore: the one process that owns the gallery store (docs/gallery.md).

An embedded Chroma folder belongs to one process, so the store lives in this one-worker service
and the API service reaches it through ``bentoml.depends``; with ``GALLERY_URI`` set, the same
client talks to a Chroma server instead. One API, ``execute``, runs a named operation of
``facereid.gallery.operations`` and answers ``{"result": ...}`` or ``{"error": ...}``: the
store's errors (unknown gallery, model mismatch) must reach the caller with their codes, and a
raised exception would cross the process boundary as a bare 500.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import bentoml
from chromadb.errors import ChromaError

from facereid.config import get_settings
from facereid.errors import FaceReIDError
from facereid.gallery.errors import GalleryBusyError

logger = logging.getLogger(__name__)

OPERATIONS = frozenset(
    {
        "enroll",
        "search",
        "subjects",
        "faces",
        "delete",
        "rename",
        "assign",
        "drop",
        "list",
        "info",
        "cluster",
        "erase_tenant",
        "export",
    }
)


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


@bentoml.service(name="GalleryStore", workers=1, threads=STORE_THREADS, traffic={"timeout": 600})
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
        )
        self._clustering = threading.Lock()
        sweeper = threading.Thread(
            target=_sweep_forever,
            args=(store, settings.gallery_retention_days, settings.gallery_retention_sweep_s),
            name="gallery-retention",
            daemon=True,
        )
        sweeper.start()
        logger.info("gallery store open at %s", uri if settings.gallery_uri else "DATA_DIR")

    @bentoml.api
    def execute(self, operation: str, arguments: dict[str, Any]) -> dict[str, Any]:
        if operation not in OPERATIONS:
            return _error("invalid_gallery_request", f"unknown operation {operation!r}", 422)
        try:
            if operation == "cluster":
                return {"result": self._cluster(arguments)}
            return {"result": getattr(self.operations, operation)(**arguments)}
        except FaceReIDError as exc:
            return _error(exc.code, exc.message, exc.status)
        except Exception as exc:
            if isinstance(exc, ChromaError) and exc.code() < 500:  # the request's own fault
                logger.warning(
                    "gallery operation %s refused by the engine: %s", operation, exc.name()
                )
                return _error(
                    "invalid_gallery_request", "the gallery store refused the request", 422
                )
            logger.exception("gallery operation %s failed", operation)
            return _error("gallery_unavailable", "the gallery store failed; see its log", 503)

    def _cluster(self, arguments: dict[str, Any]) -> dict[str, Any]:
        if not self._clustering.acquire(blocking=False):
            raise GalleryBusyError("a clustering is running; retry when it has finished")
        try:
            return self.operations.cluster(**arguments)
        finally:
            self._clustering.release()


def _sweep_forever(store: Any, days: float, every_s: float) -> None:
    """Retention: faces past their gallery's retention are erased by the same path as a
    delete (facereid/gallery/erasure.py); a failed sweep is logged and tried again."""
    while True:
        try:
            erased = store.expire(int(time.time() * 1000), days)
            if erased:
                logger.info("retention sweep erased %d faces", erased)
        except Exception:
            logger.exception("retention sweep failed")
        time.sleep(every_s)


def _error(code: str, message: str, status: int) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}
