"""The repeated-image cache: the same image with the same options and models answers from
the cache instead of the models.

Key: the tenant's tag (a digest of the tenant, so that a tenant erase finds its entries:
diskcache's ``tag``, a Redis key prefix), then SHA-256 over the tenant, the face model
(embedding space and store tag), the CLIP tag when emotions are asked for, the options that
change the answer (return_all_faces, include_emotions, labels) and the detection settings,
then the image's bytes. Tenants never share entries, and a new model never reads an old
model's answers. Values are JSON (never pickle: a shared Redis must not be able to run code in
the API) with a TTL that is short by default, since a cached analysis is biometric data.
``face_id`` and ``timestamp`` are fresh on every answer, cached or not.

Backends: ``diskcache`` under ``DATA_DIR/analysis-cache`` per host (SQLite, safe across the
API workers of one host, with its own size bound and eviction), or Redis at
``ANALYSIS_CACHE_URL`` for replicas (size bound: Redis's ``maxmemory`` policy). Purge with
``python -m facereid.analysis.cache purge``: it needs the host's files or the Redis URL, so
no HTTP route exposes it.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import sqlite3
import sys
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any, Protocol

import anyio

from facereid.analysis.options import AnalyzeOptions
from facereid.analysis.responses import utc_timestamp
from facereid.config import Settings, get_settings
from facereid.ops import metrics
from facereid.wire.faces import FaceModelInfo

logger = logging.getLogger(__name__)

KEY_VERSION = "analysis-v1"
REDIS_PREFIX = "facereid:analysis:"


class Backend(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_s: float) -> None: ...

    async def purge(self) -> int: ...

    async def sweep(self) -> int: ...

    async def evict(self, tag: str) -> int:
        """Remove a tenant's entries (their keys start with ``tag:``); returns how many."""
        ...


def tenant_tag(tenant: str) -> str:
    return hashlib.sha256(f"{KEY_VERSION}/tenant/{tenant}".encode()).hexdigest()[:32]


def _scrub_log(directory: str) -> None:
    """Deleted pages are zeroed (secure_delete); the write-ahead log still holds them as they
    were until it is folded in."""
    with closing(sqlite3.connect(Path(directory) / "cache.db")) as db:
        db.execute("PRAGMA secure_delete = 1")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


class DiskBackend:
    """``diskcache.Cache``: per-host, shared by this host's processes."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        import diskcache

        directory.mkdir(parents=True, exist_ok=True)
        # eviction "least-recently-stored" keeps writes cheap; expired entries go first.
        # secure_delete: SQLite zeroes the pages of deleted entries (results hold embeddings).
        # tag_index: a tenant's entries are found by their tag (evict), not by a full scan.
        self.cache = diskcache.Cache(
            str(directory), size_limit=max_bytes, timeout=2, sqlite_secure_delete=1, tag_index=True
        )

    async def get(self, key: str) -> bytes | None:
        value = await anyio.to_thread.run_sync(self.cache.get, key)
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        tag = key.split(":", 1)[0]
        await anyio.to_thread.run_sync(lambda: self.cache.set(key, value, expire=ttl_s, tag=tag))

    async def purge(self) -> int:
        return int(await anyio.to_thread.run_sync(self.cache.clear))

    async def sweep(self) -> int:
        """Remove entries past their TTL now; diskcache itself only culls on a later write."""
        return int(await anyio.to_thread.run_sync(self._expire))

    def _expire(self) -> int:
        removed = int(self.cache.expire())
        if removed:
            _scrub_log(self.cache.directory)
        return removed

    async def evict(self, tag: str) -> int:
        return int(await anyio.to_thread.run_sync(self._evict, tag))

    def _evict(self, tag: str) -> int:
        removed = int(self.cache.evict(tag))
        _scrub_log(self.cache.directory)
        return removed


class RedisBackend:
    """One cache for every replica; entries expire by Redis's own TTL."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    async def get(self, key: str) -> bytes | None:
        value = await self.client.get(REDIS_PREFIX + key)
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        await self.client.set(REDIS_PREFIX + key, value, px=max(1, int(ttl_s * 1000)))

    async def purge(self) -> int:
        return await self._delete_matching(REDIS_PREFIX + "*")

    async def evict(self, tag: str) -> int:
        return await self._delete_matching(f"{REDIS_PREFIX}{tag}:*")

    async def _delete_matching(self, pattern: str) -> int:
        removed = 0
        async for key in self.client.scan_iter(match=pattern, count=500):
            removed += int(await self.client.delete(key))
        return removed

    async def sweep(self) -> int:
        return 0  # Redis drops expired keys itself (PX on every set)


def build_backend(settings: Settings) -> Backend:
    if settings.analysis_cache_url:
        return RedisBackend(settings.analysis_cache_url)
    directory = Path(settings.data_dir) / "analysis-cache"
    return DiskBackend(directory, settings.analysis_cache_max_bytes)


class AnalysisCache:
    """Lookups and stores never fail a request: a broken cache only costs the speed-up."""

    def __init__(self, settings: Settings, backend: Backend | None = None) -> None:
        self.settings = settings
        self._backend = backend

    @property
    def backend(self) -> Backend:
        """Opened on first use: building a client touches no disk or network."""
        if self._backend is None:
            self._backend = build_backend(self.settings)
        return self._backend

    @classmethod
    def from_settings(cls, settings: Settings) -> AnalysisCache | None:
        return cls(settings) if settings.analysis_cache else None

    def key(
        self,
        raw: bytes,
        *,
        tenant: str,
        model: FaceModelInfo,
        options: AnalyzeOptions,
        emotion_model: str | None = None,
    ) -> str:
        """``emotion_model``: the emotion service's store tag (CLIP or fer), so a change of
        engine or model version is a new entry."""
        s = self.settings
        emotion = emotion_model or s.clip_model_tag
        parts = {
            "v": KEY_VERSION,
            "tenant": tenant,
            "face_model": [model.embedding_model, model.tag, model.name],
            "clip": emotion if options.include_emotions else None,
            "all": options.return_all_faces,
            "emotions": options.include_emotions,
            "labels": options.emotion_labels,
            "attributes": options.include_attributes,
            "detect": [s.det_size, s.det_thresh, s.nms_thresh, s.min_face_size, s.max_faces],
            # the dlib engine's detector and upsampling change which faces are found (issue 21)
            "dlib": [s.dlib_detector, s.dlib_upsample],
            "ship": [s.max_ship_side, s.emotion_crop_margin],
        }
        digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode())
        digest.update(b"\0")
        digest.update(raw)
        return f"{tenant_tag(tenant)}:{digest.hexdigest()}"

    async def erase_tenant(self, tenant: str) -> int:
        """Every entry of the tenant's, gone from the disk or Redis (issue 22)."""
        return await self.backend.evict(tenant_tag(tenant))

    async def get(self, key: str) -> dict[str, Any] | None:
        try:
            value = await self.backend.get(key)
        except Exception as exc:  # cache down: answer from the models
            logger.warning("analysis cache lookup failed: %s", type(exc).__name__)
            metrics.count_cache("error")
            return None
        if value is None:
            metrics.count_cache("miss")
            return None
        metrics.count_cache("hit")
        return fresh_ids(json.loads(value))

    async def sweep_forever(self) -> None:
        """Expired entries leave the disk within a TTL, written to or not (issue 21)."""
        interval = min(60.0, self.settings.analysis_cache_ttl_s)
        while True:
            await asyncio.sleep(interval)
            try:
                removed = await self.backend.sweep()
            except Exception as exc:
                logger.warning("analysis cache sweep failed: %s", type(exc).__name__)
                continue
            if removed:
                logger.info("analysis cache sweep removed %d expired entries", removed)

    async def set(self, key: str, result: dict[str, Any]) -> None:
        try:
            payload = json.dumps(result, separators=(",", ":")).encode()
            await self.backend.set(key, payload, self.settings.analysis_cache_ttl_s)
        except Exception as exc:
            logger.warning("analysis cache store failed: %s", type(exc).__name__)
            metrics.count_cache("error")


def fresh_ids(result: dict[str, Any]) -> dict[str, Any]:
    """A cached answer with new ``face_id``s and this moment's ``timestamp``; the top-level
    (primary) face keeps the id of ``faces[0]`` as a fresh answer does."""
    now = utc_timestamp()
    faces = result.get("faces")
    result["face_id"], result["timestamp"] = str(uuid.uuid4()), now
    if isinstance(faces, list):
        for face in faces:
            face["face_id"], face["timestamp"] = str(uuid.uuid4()), now
        if faces:
            result["face_id"] = faces[0]["face_id"]
    return result


def cacheable(result: dict[str, Any], options: AnalyzeOptions) -> bool:
    """Answers degraded by an unavailable CLIP (emotions asked for, none given) are not
    stored, so CLIP coming back is seen at once. One face without emotions among scored ones
    is its box lying outside the image, a stable part of the answer."""
    if not options.include_emotions:
        return True
    faces = result.get("faces") or [result]
    return any(face.get("emotions") is not None for face in faces)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m facereid.analysis.cache",
        description="The repeated-image cache (ANALYSIS_CACHE_URL or DATA_DIR/analysis-cache).",
    )
    parser.add_argument("command", choices=("purge",), help="purge: remove every entry")
    parser.parse_args(argv)
    removed = anyio.run(build_backend(get_settings()).purge)
    sys.stdout.write(f"removed {removed} cached analyses\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
