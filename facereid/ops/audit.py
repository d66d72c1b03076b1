"""The audit log (issue 22; docs/privacy.md): who did what to which gallery, per tenant.

Append-only SQLite under ``DATA_DIR`` (``audit.sqlite3``). An entry holds the time, the tenant,
the key id (a digest prefix, never the key), the route, the gallery, a digest of the subject
(never its name: the log must not keep what an erasure removed), counts and the request id;
never embeddings, images or metadata values. Entries are hash-chained per tenant: each
entry's ``hash`` is SHA-256 over the previous entry's hash and its own canonical JSON, so an
edited or removed entry breaks every later hash (``verify``). Entries older than
``AUDIT_RETENTION_DAYS`` are pruned; the chain still verifies from the oldest kept entry.

With ``JOB_STORE_URL=redis://…`` the log lives in that Redis instead (``open_audit``;
facereid/ops/audit_redis.py), so that replicas without a shared ``DATA_DIR`` keep one chain.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from facereid.ops.audit_chain import GENESIS, Audit, chain, chain_holds

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    at REAL NOT NULL,
    entry TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_tenant ON audit (tenant, seq);
"""


def subject_digest(tenant: str, subject: str | None) -> str | None:
    if subject is None:
        return None
    return hashlib.sha256(f"{tenant}\0{subject}".encode()).hexdigest()[:16]


__all__ = ["GENESIS", "Audit", "AuditLog", "open_audit", "subject_digest"]


def open_audit(data_dir: str, job_store_url: str, retention_days: float) -> Audit:
    """The job store's Redis when there is one (replicas share it), else SQLite on disk."""
    if job_store_url.strip().startswith(("redis://", "rediss://", "unix://")):
        from facereid.ops.audit_redis import RedisAuditLog  # redis only where it is configured

        return RedisAuditLog(job_store_url.strip(), retention_days)
    return AuditLog(Path(data_dir) / "audit.sqlite3", retention_days)


class AuditLog:
    def __init__(self, path: Path, retention_days: float = 365.0) -> None:
        self.path = path
        self.retention_s = retention_days * 86400
        self._conn: sqlite3.Connection | None = None
        self._mutex = threading.Lock()

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA secure_delete=ON")
            conn.executescript(_SCHEMA)
            self._conn = conn
        return self._conn

    def record(self, tenant: str, **fields: Any) -> None:
        """Append one entry (``fields``: key_id, route, gallery, subject_digest, counts,
        request_id)."""
        now = time.time()
        with self._mutex:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")  # the chain's tail is read and extended atomically
            try:
                row = db.execute(
                    "SELECT hash FROM audit WHERE tenant = ? ORDER BY seq DESC LIMIT 1", (tenant,)
                ).fetchone()
                prev = row[0] if row else GENESIS
                entry = json.dumps(
                    {"at": now, "tenant": tenant, **fields}, sort_keys=True, separators=(",", ":")
                )
                db.execute(
                    "INSERT INTO audit (tenant, at, entry, prev_hash, hash) VALUES (?, ?, ?, ?, ?)",
                    (tenant, now, entry, prev, chain(prev, entry)),
                )
                db.execute(
                    "DELETE FROM audit WHERE tenant = ? AND at < ?",
                    (tenant, now - self.retention_s),
                )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def query(
        self, tenant: str, since: float, until: float, after: int, limit: int
    ) -> tuple[list[dict[str, Any]], int | None]:
        """The tenant's entries in [since, until), after seq ``after``, oldest first."""
        with self._mutex:
            rows = (
                self._db()
                .execute(
                    "SELECT seq, entry, prev_hash, hash FROM audit WHERE tenant = ? AND seq > ?"
                    " AND at >= ? AND at < ? ORDER BY seq LIMIT ?",
                    (tenant, after, since, until, limit + 1),
                )
                .fetchall()
            )
        entries = [
            {"seq": seq, **json.loads(entry), "prev_hash": prev, "hash": digest}
            for seq, entry, prev, digest in rows[:limit]
        ]
        for entry in entries:
            entry.pop("tenant", None)
        return entries, (entries[-1]["seq"] if len(rows) > limit else None)

    def verify(self, tenant: str) -> bool:
        """Whether the tenant's kept entries form an unbroken chain."""
        with self._mutex:
            rows = (
                self._db()
                .execute(
                    "SELECT entry, prev_hash, hash FROM audit WHERE tenant = ? ORDER BY seq",
                    (tenant,),
                )
                .fetchall()
            )
        return chain_holds(rows)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
