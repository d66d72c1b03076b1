"""Chroma plumbing of the gallery store: the client for a folder or a URI, collection names,
and records turned into the store's row dicts (facereid/gallery/store.py, docs/gallery.md)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import chromadb
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings

FIELDS = ("subject", "source", "created_at", "metadata")  # per-face metadata keys
RETENTION = "retention_days"  # a gallery's own retention, in its collection's metadata

_NO_TELEMETRY = Settings(anonymized_telemetry=False)


def connect(uri: str, token: str | None = None) -> ClientAPI:
    """An embedded Chroma folder for a path, a Chroma server for an http(s):// URI."""
    if uri.startswith(("http://", "https://")):
        parts = urlsplit(uri)
        settings = Settings(anonymized_telemetry=False)
        if token:
            settings = Settings(
                anonymized_telemetry=False,
                chroma_client_auth_provider="chromadb.auth.token_authn.TokenAuthClientProvider",
                chroma_client_auth_credentials=token,
            )
        return chromadb.HttpClient(
            host=parts.hostname or "localhost",
            port=parts.port or (443 if parts.scheme == "https" else 8000),
            ssl=parts.scheme == "https",
            settings=settings,
        )
    return chromadb.PersistentClient(path=uri, settings=_NO_TELEMETRY)


def gallery_key(tenant: str, gallery: str) -> str:
    return f"{tenant}/{gallery}"


def collection_name(tenant: str, gallery: str) -> str:
    """Chroma names allow [a-zA-Z0-9._-] only; tenants and galleries allow more, so a digest."""
    digest = hashlib.sha256(gallery_key(tenant, gallery).encode()).hexdigest()[:40]
    return f"g-{digest}"


def rows_of(
    collection: Collection,
    fields: Sequence[str],
    ids: list[str] | None = None,
    where: dict[str, Any] | None = None,
    limit: int | None = None,
    offset: int | None = None,
) -> list[dict[str, Any]]:
    """``collection.get`` as a list of row dicts with the store's field names."""
    include: list[Any] = ["metadatas"]
    if "vector" in fields:
        include.append("embeddings")
    got = collection.get(ids=ids, where=where, limit=limit, offset=offset, include=include)
    metas = got["metadatas"] or []
    vectors = got["embeddings"] if "vector" in fields else None
    rows = []
    for i, face_id in enumerate(got["ids"]):
        meta = metas[i]
        row: dict[str, Any] = {"face_id": face_id}
        for field in fields:
            if field == "metadata":
                row[field] = json_object(meta.get("metadata"))
            elif field == "vector" and vectors is not None:
                row[field] = np.asarray(vectors[i], dtype=np.float32)
            elif field in FIELDS:
                row[field] = meta.get(field)
        rows.append(row)
    return rows


def gallery_of(collection: Collection) -> dict[str, Any]:
    meta = collection.metadata or {}
    return {
        "gallery": meta.get("gallery"),
        "tenant": meta.get("tenant"),
        "embedding_model": meta.get("embedding_model"),
        "dim": int(str(meta.get("dim") or 0)),
        "created_at": meta.get("created_at"),
        "retention_days": retention_of(meta),
    }


def retention_of(meta: Mapping[str, Any]) -> float | None:
    """A collection's own retention in days; ``None`` where it has none."""
    value = meta.get(RETENTION)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def json_object(text: Any) -> dict[str, Any]:
    value = json.loads(text) if isinstance(text, str) and text else {}
    return value if isinstance(value, dict) else {}
