"""Video results forget erased gallery faces (issue 22), on both job store back ends; on
SQLite the old result's bytes are gone from the file and its write-ahead log too."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from facereid.video.redaction import jobs_naming, redact_jobs
from facereid.video.store import COMPLETED, JobRecord, JobStore
from facereid.video.store_redis import RedisJobStore
from facereid.video.store_sqlite import SQLiteJobStore
from tests.redis_helper import redis_server

NAME = "Jane Q Public"
ERASED = "0b8f6f0e-erased-face"
KEPT = "7c1d2a9e-kept-face"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobStore]:
    opened: JobStore
    if request.param == "sqlite":
        opened = SQLiteJobStore(tmp_path / "jobs.sqlite3")
    else:
        opened = RedisJobStore(request.getfixturevalue("redis_url"), f"t:{uuid.uuid4().hex}:")
    yield opened
    opened.close()


def identity(face_id: str | None, subject: str | None) -> dict[str, Any]:
    return {
        "identity_id": 0,
        "embedding": [0.123456, -0.654321],
        "subject": subject,
        "similarity": 0.9 if face_id else None,
        "gallery_face_id": face_id,
    }


def finished(store: JobStore, tenant: str, gallery: str) -> str:
    job_id = uuid.uuid4().hex
    record = JobRecord(job_id, tenant, "upload", 2.0, False, status=COMPLETED, gallery=gallery)
    record.expires = time.time() + 3600
    result = {
        "gallery": gallery,
        "identities": [identity(ERASED, NAME), identity(KEPT, "Other"), identity(None, None)],
    }
    store.save(record, result)
    return job_id


def test_erased_faces_are_redacted_in_the_tenants_results_only(store: JobStore) -> None:
    mine = finished(store, "t1", "g")
    other_gallery = finished(store, "t1", "h")
    other_tenant = finished(store, "t2", "g")
    assert redact_jobs(store, "t1", "g", {ERASED}) == 1
    result = store.load_result(mine)
    assert result is not None
    erased, kept, unnamed = result["identities"]
    assert erased == {
        "identity_id": 0,
        "subject": None,
        "similarity": None,
        "gallery_face_id": None,
        "redacted": True,
    }
    assert kept == identity(KEPT, "Other") and unnamed == identity(None, None)
    for job_id in (other_gallery, other_tenant):  # another gallery, another tenant: untouched
        untouched = store.load_result(job_id)
        assert untouched is not None and untouched["identities"][0] == identity(ERASED, NAME)


def test_a_dropped_gallery_redacts_every_match(store: JobStore) -> None:
    job_id = finished(store, "t1", "g")
    assert redact_jobs(store, "t1", "g", None) == 2
    result = store.load_result(job_id)
    assert result is not None
    assert [i.get("redacted", False) for i in result["identities"]] == [True, True, False]


def test_sqlite_file_and_log_keep_no_copy(tmp_path: Path) -> None:
    store = SQLiteJobStore(tmp_path / "jobs.sqlite3")
    try:
        finished(store, "t1", "g")
        on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir())
        assert NAME.encode() in on_disk and ERASED.encode() in on_disk  # the test can fail
        redact_jobs(store, "t1", "g", {ERASED})
        on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir())
        assert NAME.encode() not in on_disk
        assert ERASED.encode() not in on_disk
        assert b"0.123456" in on_disk  # the other identities' embeddings stay
    finally:
        store.close()


def test_expired_results_leave_no_copy_in_the_sqlite_files(tmp_path: Path) -> None:
    store = SQLiteJobStore(tmp_path / "jobs.sqlite3")
    try:
        job_id = finished(store, "t1", "g")
        record = store.load(job_id)
        assert record is not None
        record.expires = time.time() - 1
        store.save(record)
        assert NAME.encode() in b"".join(p.read_bytes() for p in tmp_path.iterdir())
        store.reap(ttl_s=3600, max_attempts=1)  # the sweep that purges expired jobs
        assert store.load(job_id) is None
        assert NAME.encode() not in b"".join(p.read_bytes() for p in tmp_path.iterdir())
    finally:
        store.close()


def test_export_finds_the_jobs_that_name_a_face(store: JobStore) -> None:
    mine = finished(store, "t1", "g")
    finished(store, "t1", "h")  # another gallery
    finished(store, "t2", "g")  # another tenant
    assert jobs_naming(store, "t1", "g", {ERASED}) == [mine]
    assert jobs_naming(store, "t1", "g", {"no-such-face"}) == []
    redact_jobs(store, "t1", "g", {ERASED})
    assert jobs_naming(store, "t1", "g", {ERASED}) == []
