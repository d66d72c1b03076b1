"""The gallery store over Chroma (an embedded folder under DATA_DIR, or a Chroma server by URI).

Each gallery is one Chroma collection, named by a digest of "tenant/gallery" and carrying the
tenant, the gallery name and the embedding model it is bound to in its metadata. A search
therefore walks one gallery's own HNSW graph with no filter at all: Chroma's metadata filters
run through SQLite and cost ~90 ms per search at 20k rows (docs/gallery.md), while an
unfiltered search of a collection is a native HNSW query. Tenants never share a collection, so
an id or a search can never reach another tenant's faces.

Per face, Chroma keeps the vector (cosine space) and flat metadata: ``subject`` ("" for
unnamed), ``source`` (image digest or ``image_id``), ``created_at`` and ``metadata`` (the
caller's JSON object, serialised: Chroma metadata values are scalars).

Only the store service (runners/gallery.py) constructs this class: an embedded Chroma folder
belongs to one process.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from chromadb.api.collection_configuration import CreateHNSWConfiguration
from chromadb.api.models.Collection import Collection
from chromadb.api.types import Metadata, Where
from chromadb.errors import ChromaError, NotFoundError

from facereid.errors import EmbeddingModelMismatchError, echo
from facereid.gallery import erasure
from facereid.gallery.chroma import (
    RETENTION,
    collection_name,
    connect,
    gallery_of,
    json_object,
    retention_of,
    rows_of,
)
from facereid.gallery.errors import (
    FaceQuotaError,
    GalleryNotFoundError,
    GalleryQuotaError,
    InvalidGalleryRequestError,
)
from facereid.gallery.gate import ClientGate

logger = logging.getLogger(__name__)

_PAGE = 5_000  # rows per get() page when scanning a gallery (under Chroma's batch limit)


class GalleryStore:
    def __init__(
        self,
        uri: str,
        dim: int = 512,
        hnsw_m: int = 16,
        ef_construction: int = 200,
        search_ef: int = 256,
        token: str | None = None,
        max_galleries: int = 100,
        max_faces: int = 1_000_000,
        server_folder: str | None = None,
    ) -> None:
        self.uri, self.token = uri, token
        self.client = connect(uri, token)
        # the folder that erasure compacts: the embedded one, or a Chroma server's own when it
        # runs on this host (GALLERY_SERVER_DATA_DIR); else the server's folder is its own
        self.embedded = not uri.startswith(("http://", "https://"))
        self.folder = uri if self.embedded else server_folder
        self.dim = dim
        self.max_galleries = max_galleries  # per tenant (GALLERY_MAX_GALLERIES_PER_TENANT)
        self.max_faces = max_faces  # per tenant, all galleries (GALLERY_MAX_FACES_PER_TENANT)
        self._hnsw: CreateHNSWConfiguration = {
            "space": "cosine",
            "max_neighbors": hnsw_m,
            "ef_construction": ef_construction,
            "ef_search": search_ef,
        }
        # binds a new gallery's model and checks the tenant's quotas atomically; every write
        # and erasure holds it
        self._lock = threading.RLock()
        # reads share the client; an erasure of the embedded folder swaps it (gate.py)
        self._gate = ClientGate()

    def close(self) -> None:
        """Chroma commits each write before it returns; closing frees its index in memory."""
        erasure.close(self.client)

    # -- galleries ------------------------------------------------------------------------

    def _collection(self, tenant: str, gallery: str) -> Collection:
        try:
            return self.client.get_collection(
                collection_name(tenant, gallery),
                embedding_function=None,  # vectors come in ready: no text embedder
            )
        except NotFoundError:
            raise GalleryNotFoundError(f"no gallery named {gallery!r}") from None

    def gallery_info(self, tenant: str, gallery: str) -> dict[str, Any]:
        with self._gate.shared():
            return gallery_of(self._collection(tenant, gallery))

    def _bind(self, tenant: str, gallery: str, model: str, dim: int) -> Collection:
        """The first face binds a gallery to its embedding model; others must match."""
        with self._lock:
            try:
                collection = self._collection(tenant, gallery)
            except GalleryNotFoundError:
                metadata = {
                    "tenant": tenant,
                    "gallery": gallery,
                    "embedding_model": model,
                    "dim": dim,
                    "created_at": _now_ms(),
                }
                try:
                    return self.client.create_collection(
                        collection_name(tenant, gallery),
                        configuration={"hnsw": self._hnsw},
                        metadata=metadata,
                        embedding_function=None,
                    )
                except ChromaError:  # another store process created it first
                    collection = self._collection(tenant, gallery)
        check_model(gallery_of(collection), model, dim)
        return collection

    def _tenant_collections(self, tenant: str) -> list[Collection]:
        """The tenant's collections; others' are skipped by their metadata, never counted."""
        return [
            collection
            for collection in self.client.list_collections()
            if (collection.metadata or {}).get("tenant") == tenant
            and "gallery" in (collection.metadata or {})
        ]

    def _check_quotas(self, tenant: str, gallery: str, adding: int) -> None:
        """Called under the lock before rows are added (a new gallery counts as one more)."""
        owned = self._tenant_collections(tenant)
        new_gallery = collection_name(tenant, gallery) not in {c.name for c in owned}
        if new_gallery and len(owned) >= self.max_galleries:
            raise GalleryQuotaError(
                f"this tenant holds {len(owned)} galleries; the limit is {self.max_galleries}"
            )
        faces = sum(c.count() for c in owned)
        if faces + adding > self.max_faces:
            raise FaceQuotaError(
                f"this tenant holds {faces} faces; {adding} more would pass the limit of "
                f"{self.max_faces}"
            )

    def set_retention(self, tenant: str, gallery: str, days: float | None) -> float | None:
        """The gallery's own retention in days (0 keeps forever), or ``None`` to fall back to
        the default; ``expire`` reads it. Chroma's ``modify`` replaces the whole metadata dict,
        so the other keys (tenant, gallery, model, dim, created_at) are written back with it."""
        with self._lock:  # erasures swap the client and rebuild collections under it
            collection = self._collection(tenant, gallery)
            metadata = {k: v for k, v in (collection.metadata or {}).items() if k != RETENTION}
            if days is not None:
                metadata[RETENTION] = float(days)
            collection.modify(metadata=metadata)
        return days

    def list_galleries(self, tenant: str) -> list[dict[str, Any]]:
        result = []
        with self._gate.shared():
            for collection in self._tenant_collections(tenant):
                info = gallery_of(collection)
                result.append(
                    {
                        "gallery": info["gallery"],
                        "embedding_model": info["embedding_model"],
                        "dim": info["dim"],
                        "faces": collection.count(),
                        "retention_days": info["retention_days"],  # its own; None: default
                    }
                )
        return sorted(result, key=lambda r: str(r["gallery"]))

    def drop(self, tenant: str, gallery: str) -> int:
        with self._lock:
            count = self._collection(tenant, gallery).count()
            self.client.delete_collection(collection_name(tenant, gallery))
            self._erase_from_disk([])
        return count

    def erase_tenant(self, tenant: str) -> dict[str, int]:
        """Every gallery of the tenant, erased down to the disk (facereid/gallery/erasure.py)."""
        with self._lock:
            owned = self._tenant_collections(tenant)
            faces = 0
            for collection in owned:
                faces += collection.count()
                self.client.delete_collection(collection.name)
            self._erase_from_disk([])
        return {"galleries": len(owned), "faces": faces}

    def count(self, tenant: str, gallery: str) -> int:
        with self._gate.shared():
            return self._collection(tenant, gallery).count()

    # -- faces ----------------------------------------------------------------------------

    def enroll(
        self,
        tenant: str,
        gallery: str,
        model: str,
        vectors: np.ndarray,
        subjects: Sequence[str | None],
        metadata: Sequence[dict[str, Any]],
        sources: Sequence[str],
    ) -> list[str]:
        """Insert rows; returns their new face ids. Committed to Chroma's log when this
        returns, so an acknowledged enrolment survives the process being killed."""
        self._check_width(vectors)
        with self._lock:  # the quota check and the insert are one step for the tenant
            self._check_quotas(tenant, gallery, len(vectors))
            collection = self._bind(tenant, gallery, model, int(vectors.shape[1]))
            return self._add(collection, vectors, subjects, metadata, sources)

    def _add(
        self,
        collection: Collection,
        vectors: np.ndarray,
        subjects: Sequence[str | None],
        metadata: Sequence[dict[str, Any]],
        sources: Sequence[str],
    ) -> list[str]:
        ids = [str(uuid.uuid4()) for _ in range(len(vectors))]
        now = _now_ms()
        rows: list[Metadata] = [
            {
                "subject": subject or "",
                "source": source,
                "created_at": now,
                "metadata": json.dumps(meta, ensure_ascii=False),
            }
            for subject, meta, source in zip(subjects, metadata, sources, strict=True)
        ]
        matrix = np.ascontiguousarray(vectors, dtype=np.float32)
        for start in range(0, len(ids), _PAGE):
            end = start + _PAGE
            collection.add(
                ids=ids[start:end],
                embeddings=matrix[start:end],
                metadatas=rows[start:end],
            )
        return ids

    def search(
        self, tenant: str, gallery: str, model: str, queries: np.ndarray, top_k: int, ef: int
    ) -> list[list[dict[str, Any]]]:
        """Cosine top-k per query. ``ef`` is fixed per collection when it is created
        (Chroma's ``ef_search``); hnswlib searches with max(ef, top_k)."""
        with self._gate.shared():
            collection = self._collection(tenant, gallery)
            check_model(gallery_of(collection), model, int(queries.shape[1]))
            found = collection.query(
                query_embeddings=np.ascontiguousarray(queries, dtype=np.float32),
                n_results=top_k,
                include=["metadatas", "distances"],
            )
        distances = found["distances"] or []
        metadatas = found["metadatas"] or []
        return [
            [
                {
                    "face_id": face_id,
                    "subject": meta.get("subject") or None,
                    "similarity": 1.0 - float(distance),
                    "metadata": json_object(meta.get("metadata")),
                }
                for face_id, distance, meta in zip(ids, dists, metas, strict=True)
            ]
            for ids, dists, metas in zip(found["ids"], distances, metadatas, strict=True)
        ]

    def face_ids(self, tenant: str, gallery: str, subject: str | None = None) -> list[str]:
        """Sorted ids of a gallery's faces (of one subject; ``""`` = the unnamed ones)."""
        rows = self.scan(tenant, gallery, ["face_id"], subject)
        return sorted(str(r["face_id"]) for r in rows)

    def subject_counts(self, tenant: str, gallery: str) -> Counter[str]:
        rows = self.scan(tenant, gallery, ["subject"])
        return Counter(str(r["subject"]) for r in rows if r["subject"])

    def get_faces(
        self, tenant: str, gallery: str, ids: Sequence[str], fields: Sequence[str]
    ) -> list[dict[str, Any]]:
        """Rows of these ids in this gallery; ids of other galleries are simply not there."""
        if not ids:
            return []
        rows: list[dict[str, Any]] = []
        with self._gate.shared():
            collection = self._collection(tenant, gallery)
            for start in range(0, len(ids), _PAGE):
                rows += rows_of(collection, fields, ids=list(ids[start : start + _PAGE]))
        return rows

    def scan(
        self, tenant: str, gallery: str, fields: Sequence[str], subject: str | None = None
    ) -> list[dict[str, Any]]:
        where = {"subject": subject} if subject is not None else None
        rows: list[dict[str, Any]] = []
        with self._gate.shared():
            collection = self._collection(tenant, gallery)
            while True:  # paged: one get() of a whole large gallery would exceed Chroma's limits
                page = rows_of(collection, fields, where=where, limit=_PAGE, offset=len(rows))
                rows += page
                if len(page) < _PAGE:
                    return rows

    def delete_faces(self, tenant: str, gallery: str, ids: Sequence[str]) -> list[str]:
        """Deleted rows are erased from the disk before this returns: scrubbed from the
        embedded folder's files, or the collection rebuilt without them (erasure.py)."""
        with self._lock:
            found = [str(r["face_id"]) for r in self.get_faces(tenant, gallery, ids, ["face_id"])]
            if found:
                collection = self._collection(tenant, gallery)
                for start in range(0, len(found), _PAGE):
                    collection.delete(ids=found[start : start + _PAGE])
                self._erase_from_disk(found, rebuild=collection.name)
        return found

    def _erase_from_disk(self, ids: list[str], rebuild: str | None = None) -> None:
        """After Chroma deleted rows (``ids``) or collections (no ids): scrub the embedded
        folder; else rebuild the collection ``rebuild`` and compact the server's folder where
        it is on this host (erasure.py). Called under the store's lock."""
        if self._scrub(ids):
            return
        if rebuild is not None:
            erasure.rebuild(self.client, rebuild, self._hnsw)
        erasure.compact_folder(self.folder)

    def _scrub(self, ids: list[str]) -> bool:
        """Erase deleted rows (and dropped collections' folders) from an embedded folder's
        files, with Chroma's client closed meanwhile, so that no index it held in memory is
        saved back later; False where that cannot be done (erasure.py)."""
        if not self.embedded:
            return False
        with self._gate.alone():
            try:
                if not erasure.release(self.client):
                    logger.warning("another client holds the gallery folder: erasing by rebuild")
                    return False
                erasure.scrub(self.uri, ids)
                return True
            except erasure.UnknownLayoutError as error:
                logger.warning("erasing by rebuild: %s", error)
                return False
            finally:
                self.client = connect(self.uri, self.token)

    def expire_faces(self, now_ms: int, default_days: float) -> list[tuple[str, str, list[str]]]:
        """Erase, down to the disk, every face older than its gallery's retention (the
        collection's ``retention_days`` metadata, else ``default_days``; 0 keeps forever).
        The API service's retention sweeper calls it (runners/gallery_api.py); returns the
        ids erased, per (tenant, gallery), for the redaction of video results and the audit."""
        expired: list[tuple[str, str, list[str]]] = []
        with self._gate.shared():  # found first: the erasure swaps the client
            for collection in self.client.list_collections():
                meta = collection.metadata or {}
                if "gallery" not in meta:
                    continue
                own = retention_of(meta)
                days = default_days if own is None else own
                if days <= 0:
                    continue
                cutoff = now_ms - int(days * 86_400_000)
                before: dict[Literal["$lt"], int] = {"$lt": cutoff}
                older: Where = {"created_at": before}  # type: ignore[dict-item]
                old = collection.get(where=older, include=[])["ids"]
                if old:
                    expired.append((str(meta["tenant"]), str(meta["gallery"]), old))
        return [(t, g, self.delete_faces(t, g, old)) for t, g, old in expired]

    def expire(self, now_ms: int, default_days: float) -> int:
        """``expire_faces``, counted."""
        return sum(len(ids) for _, _, ids in self.expire_faces(now_ms, default_days))

    def set_subject(self, tenant: str, gallery: str, ids: Sequence[str], subject: str) -> int:
        """Chroma merges the given metadata keys into each row; the vectors stay put."""
        with self._lock:  # not while a rebuild copies the rows
            found = [r["face_id"] for r in self.get_faces(tenant, gallery, ids, ["face_id"])]
            collection = self._collection(tenant, gallery)
            for start in range(0, len(found), _PAGE):
                chunk = found[start : start + _PAGE]
                collection.update(ids=chunk, metadatas=[{"subject": subject}] * len(chunk))
        return len(found)

    def _check_width(self, vectors: np.ndarray) -> None:
        if vectors.shape[1] > self.dim:
            raise InvalidGalleryRequestError(
                f"embeddings of {vectors.shape[1]} dimensions; the gallery holds at most {self.dim}"
            )


def check_model(info: dict[str, Any], model: str, dim: int) -> None:
    if info["embedding_model"] != model or int(info["dim"]) != dim:
        raise EmbeddingModelMismatchError(
            f"gallery {info['gallery']!r} holds {echo(info['embedding_model'])} embeddings "
            f"({info['dim']} dimensions); got {echo(model)} ({dim} dimensions)"
        )


def _now_ms() -> int:
    return int(time.time() * 1000)
