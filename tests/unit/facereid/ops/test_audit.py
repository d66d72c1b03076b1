"""The audit log's hash chain (issue 22): intact entries verify; an edited, removed or
reordered entry does not; tenants' chains and queries are separate."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from facereid.ops.audit import GENESIS, Audit, AuditLog, open_audit
from facereid.ops.audit_redis import RedisAuditLog


@pytest.fixture
def log(tmp_path: Path) -> Iterator[AuditLog]:
    audit = AuditLog(tmp_path / "audit.sqlite3")
    for n in range(4):
        audit.record("a", route="delete", gallery="g", counts={"deleted": n}, request_id=str(n))
    audit.record("b", route="drop", gallery="h", counts={}, request_id="b")
    yield audit
    audit.close()


def test_entries_chain_per_tenant_and_page_by_cursor(log: AuditLog) -> None:
    first, after = log.query("a", 0, 1e12, 0, 3)
    rest, end = log.query("a", 0, 1e12, int(str(after)), 3)
    entries = first + rest
    assert [e["counts"]["deleted"] for e in entries] == [0, 1, 2, 3] and end is None
    assert entries[0]["prev_hash"] == GENESIS
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(entries, entries[1:], strict=False))
    assert [e["route"] for e in log.query("b", 0, 1e12, 0, 10)[0]] == ["drop"]
    assert log.verify("a") and log.verify("b")


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE audit SET entry = replace(entry, '\"deleted\":2', '\"deleted\":9') WHERE seq = 3",
        "DELETE FROM audit WHERE seq = 2",
        "UPDATE audit SET at = at - 1, hash = 'x' WHERE seq = 4",
    ],
)
def test_a_tampered_entry_breaks_the_chain(log: AuditLog, tmp_path: Path, tamper: str) -> None:
    with sqlite3.connect(tmp_path / "audit.sqlite3") as db:
        db.execute(tamper)
    assert not log.verify("a")
    assert log.verify("b")  # another tenant's chain is untouched


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    from tests.redis_helper import redis_server

    with redis_server() as url:
        yield url


def filled(audit: Audit) -> Audit:
    for n in range(4):
        audit.record("a", route="delete", gallery="g", counts={"deleted": n}, request_id=str(n))
    audit.record("b", route="drop", gallery="h", counts={}, request_id="b")
    return audit


def test_redis_is_chosen_with_a_redis_job_store(tmp_path: Path, redis_url: str) -> None:
    assert isinstance(open_audit(str(tmp_path), redis_url, 365), RedisAuditLog)
    assert isinstance(open_audit(str(tmp_path), "", 365), AuditLog)
    assert isinstance(open_audit(str(tmp_path), "sqlite:///x.db", 365), AuditLog)


def test_the_redis_log_chains_pages_and_separates_tenants(redis_url: str) -> None:
    """The same contract as the SQLite log, in the job store's Redis (replicas share it)."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    log = filled(open_audit("", redis_url, 365))
    first, after = log.query("a", 0, 1e12, 0, 3)
    rest, end = log.query("a", 0, 1e12, int(str(after)), 3)
    entries = first + rest
    assert [e["counts"]["deleted"] for e in entries] == [0, 1, 2, 3] and end is None
    assert entries[0]["prev_hash"] == GENESIS and "tenant" not in entries[0]
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(entries, entries[1:], strict=False))
    assert [e["route"] for e in log.query("b", 0, 1e12, 0, 10)[0]] == ["drop"]
    assert log.query("a", 0, entries[0]["at"], 0, 10)[0] == []  # until is exclusive
    assert log.verify("a") and log.verify("b")
    # an edited entry breaks the chain: rewrite the third entry's counts in place
    client = redis.Redis.from_url(redis_url)
    edited = b'\\"deleted\\":2'
    for key in client.scan_iter(match=b"facereid:audit:*", _type="zset"):
        members = cast(list[bytes], client.zrange(key, 0, -1))
        for raw in (m for m in members if edited in m):
            client.zrem(key, raw)
            client.zadd(key, {raw.replace(edited, b'\\"deleted\\":9'): 3})
    assert not log.verify("a") and log.verify("b")
    log.close()


def test_the_redis_log_prunes_past_its_retention(redis_url: str) -> None:
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    log = open_audit("", redis_url, 1e-9)  # every earlier entry is past it at the next append
    filled(log)
    entries = log.query("a", 0, 1e12, 0, 10)[0]
    assert [e["counts"]["deleted"] for e in entries] == [3]
    assert log.verify("a")  # the chain verifies from the oldest kept entry
    log.close()
