"""Video results forget erased gallery faces (issue 22), on both job store back ends; on
SQLite the old result's bytes are gone from the file and its write-ahead log too."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from facereid.video.redaction import delete_tenant_jobs, jobs_naming, redact_jobs
from facereid.video.store import COMPLETED, JobRecord, JobStore
from facereid.video.store_redis import RedisJobStore
from facereid.video.store_sqlite import SQLiteJobStore
from facereid.video.uploads import UploadArea
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


def stored_values(store: JobStore, tmp_path: Path) -> bytes:
    """Everything the back end holds: the SQLite files, or every Redis value under the prefix."""
    if isinstance(store, RedisJobStore):
        client = store._redis
        values: list[bytes] = []
        for key in client.scan_iter(match=store.prefix + "*"):
            kind = client.type(key)
            if kind == b"string":
                values.append(cast(bytes, client.get(key)))
            elif kind == b"hash":
                pairs = cast(dict[bytes, bytes], client.hgetall(key))
                values += [k + v for k, v in pairs.items()]
            elif kind == b"set":
                values += cast(set[bytes], client.smembers(key))
        return b"".join(values)
    return b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())


def test_a_tenant_erase_deletes_its_jobs_results_uploads_and_turn(
    store: JobStore, tmp_path: Path
) -> None:
    """Issue 22: every job of the tenant, ended or still queued, goes with its result and its
    upload folder (found by job id, never by the path in the record); nothing of it stays in
    SQLite's files or under the Redis prefix; the other tenant's job stays whole."""
    area = UploadArea(tmp_path / "uploads")
    done = finished(store, "t1", "g")
    waiting = JobRecord(uuid.uuid4().hex, "t1", "/etc/passwd", 2.0, False)  # a lying path
    store.add(waiting, max_jobs=10, max_per_tenant=10)
    kept = finished(store, "t2", "g")
    for job_id in (done, waiting.job_id, kept):
        area.path_of(job_id).parent.mkdir(parents=True)
        area.path_of(job_id).write_bytes(b"VIDEO-BYTES-" + job_id.encode())
    store.mark_served("t1")
    assert NAME.encode() in stored_values(store, tmp_path)  # the test can fail
    assert delete_tenant_jobs(store, area, "t1") == 2
    assert store.load(done) is None and store.load(waiting.job_id) is None
    assert store.load_result(done) is None and "t1" not in store.served()
    assert not area.path_of(done).parent.exists()
    assert not area.path_of(waiting.job_id).parent.exists()
    assert area.path_of(kept).is_file() and Path("/etc/passwd").is_file()
    left = stored_values(store, tmp_path)
    assert done.encode() not in left and waiting.job_id.encode() not in left
    assert store.load_result(kept) is not None and kept.encode() in left
    assert NAME.encode() in left  # tenant t2's result still names its subject
