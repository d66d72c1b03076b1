"""The audit log's hash chain and interface, shared by its SQLite and Redis back ends
(facereid/ops/audit.py, facereid/ops/audit_redis.py)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Protocol

GENESIS = "0" * 64


def chain(prev_hash: str, entry: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{entry}".encode()).hexdigest()


def chain_holds(rows: Sequence[tuple[str, str, str]]) -> bool:
    """Whether (entry, prev_hash, hash) rows, oldest first, form an unbroken chain."""
    expected = rows[0][1] if rows else GENESIS
    for entry, prev, digest in rows:
        if prev != expected or chain(prev, entry) != digest:
            return False
        expected = digest
    return True


class Audit(Protocol):
    def record(self, tenant: str, **fields: Any) -> None: ...

    def query(
        self, tenant: str, since: float, until: float, after: int, limit: int
    ) -> tuple[list[dict[str, Any]], int | None]: ...

    def verify(self, tenant: str) -> bool: ...

    def close(self) -> None: ...
