"""The audit log in the job store's Redis (issue 22; docs/privacy.md), for replicas that share
no ``DATA_DIR``: the same entries and hash chain as ``facereid.ops.audit.AuditLog``.

Per tenant, a sorted set ``facereid:audit:<tenant digest>`` holds each entry as JSON scored by
its ``seq`` (one counter for all tenants, as SQLite's rowid), and ``...:tail`` the chain's last
hash. Appending reads the tail and writes entry and tail in one ``WATCH``/``MULTI``
transaction, retried when another replica appended meanwhile, so the chain never forks.
Redis's Lua has no SHA-256, hence the optimistic transaction rather than a script.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, cast

import redis

from facereid.ops.audit_chain import GENESIS, chain, chain_holds

_PREFIX = "facereid:audit:"
_PAGE = 500


class RedisAuditLog:
    def __init__(self, url: str, retention_days: float = 365.0) -> None:
        self.retention_s = retention_days * 86400
        self._redis: redis.Redis = redis.Redis.from_url(
            url, socket_timeout=10, socket_connect_timeout=5
        )

    @staticmethod
    def _key(tenant: str) -> str:
        return _PREFIX + hashlib.sha256(tenant.encode()).hexdigest()[:32]

    def record(self, tenant: str, **fields: Any) -> None:
        key, tail = self._key(tenant), self._key(tenant) + ":tail"
        seq = int(self._redis.incr(_PREFIX + "seq"))
        while True:
            with self._redis.pipeline() as pipe:
                try:
                    pipe.watch(tail)  # type: ignore[no-untyped-call]
                    raw = pipe.get(tail)
                    prev = raw.decode() if isinstance(raw, bytes) else GENESIS
                    now = time.time()
                    entry = json.dumps(
                        {"at": now, "tenant": tenant, **fields},
                        sort_keys=True,
                        separators=(",", ":"),
                    )
                    digest = chain(prev, entry)
                    row = {"seq": seq, "at": now, "entry": entry, "prev_hash": prev, "hash": digest}
                    pipe.multi()
                    pipe.zadd(key, {json.dumps(row, separators=(",", ":")): seq})
                    pipe.set(tail, digest)
                    pipe.execute()
                    break
                except redis.WatchError:
                    continue
        self._prune(key, now - self.retention_s)

    def _prune(self, key: str, cutoff: float) -> None:
        """Entries older than the retention, oldest first (seq follows time)."""
        while True:
            oldest = cast(list[bytes], self._redis.zrange(key, 0, _PAGE - 1))
            old = [raw for raw in oldest if json.loads(raw)["at"] < cutoff]
            if not old:
                return
            self._redis.zrem(key, *old)
            if len(old) < len(oldest):
                return

    def _rows(self, tenant: str, after: int) -> list[dict[str, Any]]:
        """Every kept row after ``after``, oldest first (paged reads)."""
        rows: list[dict[str, Any]] = []
        low = f"({after}"
        while True:
            found = self._redis.zrangebyscore(self._key(tenant), low, "+inf", start=0, num=_PAGE)
            page = cast(list[bytes], found)
            rows += [json.loads(raw) for raw in page]
            if len(page) < _PAGE:
                return rows
            low = f"({rows[-1]['seq']}"

    def query(
        self, tenant: str, since: float, until: float, after: int, limit: int
    ) -> tuple[list[dict[str, Any]], int | None]:
        rows = [r for r in self._rows(tenant, after) if since <= r["at"] < until]
        entries = []
        for row in rows[:limit]:
            entry = {"seq": row["seq"], **json.loads(row["entry"])}
            entry.update(prev_hash=row["prev_hash"], hash=row["hash"])
            entry.pop("tenant", None)
            entries.append(entry)
        return entries, (entries[-1]["seq"] if len(rows) > limit else None)

    def verify(self, tenant: str) -> bool:
        rows = self._rows(tenant, 0)
        return chain_holds([(r["entry"], r["prev_hash"], r["hash"]) for r in rows])

    def close(self) -> None:
        self._redis.close()
