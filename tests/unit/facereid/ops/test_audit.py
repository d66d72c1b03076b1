"""The audit log's hash chain (issue 22): intact entries verify; an edited, removed or
reordered entry does not; tenants' chains and queries are separate."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from facereid.ops.audit import GENESIS, AuditLog


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
