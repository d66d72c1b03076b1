"""Which job store the settings name: Redis for ``JOB_STORE_URL=redis://…``, else SQLite
under ``DATA_DIR`` (docs/video.md, *Durable jobs*)."""

from __future__ import annotations

from pathlib import Path

from facereid.config import Settings
from facereid.video.store import JobStore
from facereid.video.store_sqlite import SQLiteJobStore


def open_store(settings: Settings) -> JobStore:
    url = settings.job_store_url.strip()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from facereid.video.store_redis import RedisJobStore

        return RedisJobStore(url, settings.job_store_prefix)
    if url and not url.startswith("sqlite:"):
        raise ValueError(f"JOB_STORE_URL must be redis://… or sqlite:///path, got {url[:40]!r}")
    path = url.removeprefix("sqlite://") if url else ""
    return SQLiteJobStore(Path(path) if path else Path(settings.data_dir) / "jobs.sqlite3")
