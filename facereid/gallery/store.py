"""The gallery store over Milvus (Milvus Lite in a local folder, or a Milvus server by URI).

One ``faces`` collection holds every tenant's galleries: ``gkey`` ("tenant/gallery") is the
partition key, so a search touches one gallery's partition only. Vectors are L2-normalised
and zero-padded to ``dim`` (the widest model we serve): padding keeps the norm and every cosine
between two padded vectors unchanged, so 128-d dlib and 512-d ArcFace galleries share the
collection. A small ``galleries`` collection records each gallery's embedding model (Milvus
needs a vector field in every collection, hence its 2-d placeholder vector).

Only the store service (runners/gallery.py) constructs this class: Milvus Lite allows one
process per data folder.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from pymilvus import MilvusClient

from facereid.errors import EmbeddingModelMismatchError
from facereid.gallery.errors import GalleryNotFoundError, InvalidGalleryRequestError
from facereid.gallery.schema import FACES, GALLERIES, ensure_collections

logger = logging.getLogger(__name__)

_SCAN_BATCH = 16_384  # rows per query page when scanning a gallery


# pymilvus pings every 10 s even when idle; a Milvus Lite server (a plain grpc server, which
# allows one ping per 5 min without calls) answers GOAWAY "too many pings" and the next call
# fails. Pinging only during calls, and no more often than that, suits every Milvus server.
_GRPC_OPTIONS = {"grpc.keepalive_time_ms": 300_000, "grpc.keepalive_permit_without_calls": False}


def connect(uri: str, token: str | None = None) -> MilvusClient:
    return MilvusClient(uri, token=token or "", grpc_options=_GRPC_OPTIONS)


def gallery_key(tenant: str, gallery: str) -> str:
    return f"{tenant}/{gallery}"


def literal(text: str) -> str:
    """A Milvus filter string literal (Milvus Lite has no filter templates)."""
    return json.dumps(text, ensure_ascii=False)


class GalleryStore:
    def __init__(
        self,
        uri: str,
        dim: int = 512,
        hnsw_m: int = 16,
        ef_construction: int = 200,
        token: str | None = None,
        flush_idle_s: float = 1.0,
    ) -> None:
        self.client = connect(uri, token)
        self.dim = dim
        self._lock = threading.Lock()  # binds a new gallery's model atomically
        ensure_collections(self.client, dim, hnsw_m, ef_construction)
        self._unflushed = threading.Event()
        self._last_write = 0.0
        self._closed = threading.Event()
        self.flush_idle_s = flush_idle_s
        if flush_idle_s > 0:
            threading.Thread(
                target=self._flush_when_idle, name="gallery-flush", daemon=True
            ).start()

    def _flush_when_idle(self) -> None:
        """Seal fresh rows into indexed segments once writes pause.

        Milvus Lite searches rows still in its memtable by brute force in Python (about 1 s
        for 5,000 rows here) and only sealed segments through the HNSW index; the WAL already
        makes the rows durable, so flushing is only about search speed.
        """
        while not self._closed.is_set():
            self._unflushed.wait(timeout=1.0)
            if self._closed.is_set():
                return
            if not self._unflushed.is_set():
                continue
            if time.monotonic() - self._last_write < self.flush_idle_s:
                time.sleep(self.flush_idle_s / 2)
                continue
            self._unflushed.clear()
            try:
                self.client.flush(FACES)
            except Exception:  # the next write retries; searches stay correct meanwhile
                logger.exception("gallery flush failed")
                self._unflushed.set()

    def _wrote(self) -> None:
        self._last_write = time.monotonic()
        self._unflushed.set()

    def close(self) -> None:
        self._closed.set()
        self._unflushed.set()
        self.client.close()

    # -- galleries ------------------------------------------------------------------------

    def gallery_info(self, tenant: str, gallery: str) -> dict[str, Any]:
        rows = self.client.get(GALLERIES, ids=[gallery_key(tenant, gallery)])
        if not rows:
            raise GalleryNotFoundError(f"no gallery named {gallery!r}")
        return dict(rows[0])

    def _bind(self, tenant: str, gallery: str, model: str, dim: int) -> None:
        """The first face binds a gallery to its embedding model; others must match."""
        with self._lock:
            try:
                info = self.gallery_info(tenant, gallery)
            except GalleryNotFoundError:
                row = {
                    "gkey": gallery_key(tenant, gallery),
                    "tenant": tenant,
                    "gallery": gallery,
                    "embedding_model": model,
                    "dim": dim,
                    "created_at": _now_ms(),
                    "placeholder": [0.0, 0.0],
                }
                self.client.insert(GALLERIES, [row])
                return
        check_model(info, model, dim)

    def list_galleries(self, tenant: str) -> list[dict[str, Any]]:
        rows = self.client.query(
            GALLERIES,
            filter=f"tenant == {literal(tenant)}",
            output_fields=["gallery", "embedding_model", "dim", "created_at"],
        )
        result = []
        for row in sorted(rows, key=lambda r: str(r["gallery"])):
            count = self.count(tenant, row["gallery"])
            result.append({**_plain(row, ("gallery", "embedding_model", "dim")), "faces": count})
        return result

    def drop(self, tenant: str, gallery: str) -> int:
        self.gallery_info(tenant, gallery)
        count = self.count(tenant, gallery)
        self.client.delete(FACES, filter=self._in_gallery(tenant, gallery))
        self.client.delete(GALLERIES, ids=[gallery_key(tenant, gallery)])
        self._wrote()
        return count

    def count(self, tenant: str, gallery: str) -> int:
        rows = self.client.query(
            FACES, filter=self._in_gallery(tenant, gallery), output_fields=["count(*)"]
        )
        return int(rows[0]["count(*)"]) if rows else 0

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
        """Insert normalised rows; returns their new face ids. Written to the WAL when this
        returns, so an acknowledged enrolment survives the process being killed."""
        self._bind(tenant, gallery, model, int(vectors.shape[1]))
        ids = [str(uuid.uuid4()) for _ in range(len(vectors))]
        now = _now_ms()
        padded = self._padded(vectors)
        key = gallery_key(tenant, gallery)
        rows = [
            {
                "face_id": face_id,
                "gkey": key,
                "subject": subject or "",
                "source": source,
                "created_at": now,
                "metadata": meta,
                "vector": vector,
            }
            for face_id, subject, meta, source, vector in zip(
                ids, subjects, metadata, sources, list(padded), strict=True
            )
        ]
        self.client.insert(FACES, rows)
        self._wrote()
        return ids

    def search(
        self, tenant: str, gallery: str, model: str, queries: np.ndarray, top_k: int, ef: int
    ) -> list[list[dict[str, Any]]]:
        check_model(self.gallery_info(tenant, gallery), model, int(queries.shape[1]))
        hits = self.client.search(
            FACES,
            data=list(self._padded(queries)),
            anns_field="vector",
            filter=self._in_gallery(tenant, gallery),
            limit=top_k,
            output_fields=["subject", "metadata"],
            search_params={"metric_type": "COSINE", "params": {"ef": max(ef, top_k)}},
        )
        return [
            [
                {
                    "face_id": hit["face_id"] if "face_id" in hit else hit["id"],
                    "subject": hit["entity"].get("subject") or None,
                    "similarity": float(hit["distance"]),
                    "metadata": hit["entity"].get("metadata") or {},
                }
                for hit in per_query
            ]
            for per_query in hits
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
        if not ids:
            return []
        rows = self.client.get(FACES, ids=list(ids), output_fields=["gkey", *fields])
        key = gallery_key(tenant, gallery)
        return [dict(r) for r in rows if r["gkey"] == key]  # ids of other galleries: unseen

    def scan(
        self, tenant: str, gallery: str, fields: Sequence[str], subject: str | None = None
    ) -> list[dict[str, Any]]:
        self.gallery_info(tenant, gallery)
        expr = self._in_gallery(tenant, gallery)
        if subject is not None:
            expr += f" and subject == {literal(subject)}"
        iterator = self.client.query_iterator(
            FACES, batch_size=_SCAN_BATCH, filter=expr, output_fields=list(fields)
        )
        rows: list[dict[str, Any]] = []
        try:
            while batch := iterator.next():
                rows.extend(dict(r) for r in batch)
        finally:
            iterator.close()
        return rows

    def delete_faces(self, tenant: str, gallery: str, ids: Sequence[str]) -> int:
        found = [r["face_id"] for r in self.get_faces(tenant, gallery, ids, ["face_id"])]
        if found:
            self.client.delete(FACES, ids=found)
            self._wrote()
        return len(found)

    def set_subject(self, tenant: str, gallery: str, ids: Sequence[str], subject: str) -> int:
        """Milvus updates a row by upserting all of it, so the vectors travel back once."""
        fields = ["face_id", "subject", "source", "created_at", "metadata", "vector"]
        changed = 0
        for start in range(0, len(ids), 1000):
            rows = self.get_faces(tenant, gallery, ids[start : start + 1000], fields)
            for row in rows:
                row["subject"] = subject
            if rows:
                self.client.upsert(FACES, rows)
                self._wrote()
            changed += len(rows)
        return changed

    def _padded(self, vectors: np.ndarray) -> np.ndarray:
        if vectors.shape[1] > self.dim:
            raise InvalidGalleryRequestError(
                f"embeddings of {vectors.shape[1]} dimensions; the gallery holds at most {self.dim}"
            )
        padded = np.zeros((len(vectors), self.dim), dtype=np.float32)
        padded[:, : vectors.shape[1]] = vectors
        return padded

    @staticmethod
    def _in_gallery(tenant: str, gallery: str) -> str:
        return f"gkey == {literal(gallery_key(tenant, gallery))}"


def check_model(info: dict[str, Any], model: str, dim: int) -> None:
    if info["embedding_model"] != model or int(info["dim"]) != dim:
        raise EmbeddingModelMismatchError(
            f"gallery {info['gallery']!r} holds {info['embedding_model']} embeddings "
            f"({info['dim']} dimensions); got {model} ({dim} dimensions)"
        )


def _plain(row: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    return {k: row[k] for k in keys}


def _now_ms() -> int:
    return int(time.time() * 1000)
