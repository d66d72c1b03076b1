"""The job store in one SQLite file (WAL) under ``DATA_DIR``: the default, for one host.

Every API worker of the host opens the same file; ``BEGIN IMMEDIATE`` takes SQLite's write
lock, which is the store's lock across processes. WAL lets readers go on while a writer
commits, and ``synchronous=NORMAL`` survives a killed process (not a power cut, which loses
at most the last commits). Connections open lazily, so importing the service opens nothing.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from facereid.video.store import QUEUED, RUNNING, JobRecord, JobStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    expires REAL,
    record TEXT NOT NULL,
    result TEXT
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);
CREATE TABLE IF NOT EXISTS served (tenant TEXT PRIMARY KEY, seq INTEGER NOT NULL);
"""


class SQLiteJobStore(JobStore):
    outage_errors = (sqlite3.OperationalError,)  # locked past the busy timeout, disk full

    def __init__(self, path: Path, busy_timeout_s: float = 30.0) -> None:
        self.path = path
        self._busy_timeout_s = busy_timeout_s
        self._conn: sqlite3.Connection | None = None
        self._mutex = threading.RLock()  # one connection, shared by this process's threads
        self._expired_gone = False

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout_s,
                isolation_level=None,  # our own BEGIN IMMEDIATE / COMMIT
                check_same_thread=False,
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            # a deleted or rewritten result is overwritten with zeros, not left in free pages
            conn.execute("PRAGMA secure_delete=ON")
            conn.executescript(_SCHEMA)
            self._conn = conn
        return self._conn

    @contextmanager
    def locked(self) -> Iterator[None]:
        with self._mutex:
            db = self._db()
            if db.in_transaction:  # re-entered from this thread: already holds the lock
                yield
                return
            db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def load(self, job_id: str) -> JobRecord | None:
        with self._mutex:
            row = (
                self._db().execute("SELECT record FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            )
        return None if row is None else JobRecord.from_json(row[0])

    def save(self, record: JobRecord, result: dict[str, Any] | None = None) -> None:
        with self._mutex:
            self._db().execute(
                "INSERT INTO jobs (job_id, status, expires, record, result) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (job_id) DO UPDATE SET status = excluded.status,"
                " expires = excluded.expires, record = excluded.record,"
                " result = COALESCE(excluded.result, jobs.result)",
                (
                    record.job_id,
                    record.status,
                    record.expires,
                    record.to_json(),
                    None if result is None else json.dumps(result, separators=(",", ":")),
                ),
            )

    def delete(self, job_id: str) -> None:
        with self._mutex:
            self._db().execute("DELETE FROM jobs WHERE job_id = ?", (job_id,))

    def active(self) -> list[JobRecord]:
        with self._mutex:
            rows = (
                self._db()
                .execute("SELECT record FROM jobs WHERE status IN (?, ?)", (QUEUED, RUNNING))
                .fetchall()
            )
        return [JobRecord.from_json(row[0]) for row in rows]

    def load_result(self, job_id: str) -> dict[str, Any] | None:
        with self._mutex:
            row = (
                self._db().execute("SELECT result FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            )
        if row is None or row[0] is None:
            return None
        result: dict[str, Any] = json.loads(row[0])
        return result

    def served(self) -> dict[str, int]:
        with self._mutex:
            rows = self._db().execute("SELECT tenant, seq FROM served").fetchall()
        return {str(tenant): int(seq) for tenant, seq in rows}

    def mark_served(self, tenant: str) -> None:
        with self._mutex:
            self._db().execute(
                "INSERT INTO served (tenant, seq)"
                " VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM served))"
                " ON CONFLICT (tenant) DO UPDATE SET seq = excluded.seq",
                (tenant,),
            )

    def purge_expired(self, now: float) -> None:
        with self._mutex:
            db = self._db()
            gone = db.execute("DELETE FROM jobs WHERE expires IS NOT NULL AND expires < ?", (now,))
            # secure_delete zeroed the pages; the log keeps old images until a checkpoint,
            # which cannot run inside the caller's transaction: scrub() runs it after
            self._expired_gone = self._expired_gone or gone.rowcount > 0

    def result_ids(self) -> list[str]:
        with self._mutex:
            rows = self._db().execute("SELECT job_id FROM jobs WHERE result IS NOT NULL")
            return [str(row[0]) for row in rows.fetchall()]

    def job_ids(self) -> list[str]:
        with self._mutex:
            rows = self._db().execute("SELECT job_id FROM jobs")
            return [str(row[0]) for row in rows.fetchall()]

    def forget_tenant(self, tenant: str) -> None:
        with self._mutex:
            self._db().execute("DELETE FROM served WHERE tenant = ?", (tenant,))

    def scrub(self, expired_only: bool = False) -> None:
        """Old page images stay in the write-ahead log until it is checkpointed."""
        with self._mutex:
            if expired_only and not self._expired_gone:
                return
            self._expired_gone = False
            self._db().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._mutex:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
