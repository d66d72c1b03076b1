"""The job store in Redis (``JOB_STORE_URL=redis://…``): for replicas on several hosts.

Keys (under ``JOB_STORE_PREFIX``): ``job:<id>`` the record, ``result:<id>`` the result, the
set ``active`` of queued and running ids, the hash ``served`` (tenant -> claim number) and the
counter ``seq``. A finished job's keys get a Redis expiry at its TTL, so Redis forgets them on
its own. The store's lock is a Redis lock with a timeout, so a process killed while holding it
blocks the others for at most ``_LOCK_TIMEOUT_S``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis

from facereid.video.store import JobRecord, JobStore, iter_json

_LOCK_TIMEOUT_S = 10.0


class RedisJobStore(JobStore):
    outage_errors = (redis.exceptions.RedisError, TimeoutError)

    def __init__(self, url: str, prefix: str = "facereid:video:") -> None:
        self.prefix = prefix
        self._redis: redis.Redis = redis.Redis.from_url(
            url, socket_timeout=10, socket_connect_timeout=5
        )

    def _key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    @contextmanager
    def locked(self) -> Iterator[None]:
        lock = self._redis.lock(
            self._key("lock"), timeout=_LOCK_TIMEOUT_S, blocking_timeout=_LOCK_TIMEOUT_S * 3
        )
        if not lock.acquire():
            raise TimeoutError("the video job store's lock stayed taken")
        try:
            yield
        finally:
            try:
                lock.release()
            except redis.exceptions.LockError:
                pass  # it timed out meanwhile; another holder may have it now

    def load(self, job_id: str) -> JobRecord | None:
        value = self._redis.get(self._key("job", job_id))
        return None if value is None else JobRecord.from_json(value)

    def save(self, record: JobRecord, result: dict[str, Any] | None = None) -> None:
        job_key, result_key = self._key("job", record.job_id), self._key("result", record.job_id)
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(job_key, record.to_json())
        if result is not None:
            pipe.set(result_key, json.dumps(result, separators=(",", ":")))
        if record.expires is None:
            pipe.sadd(self._key("active"), record.job_id)
        else:
            pipe.srem(self._key("active"), record.job_id)
            ttl_ms = max(1, math.ceil((record.expires - time.time()) * 1000))
            pipe.pexpire(job_key, ttl_ms)
            pipe.pexpire(result_key, ttl_ms)
        pipe.execute()

    def delete(self, job_id: str) -> None:
        self._redis.delete(self._key("job", job_id), self._key("result", job_id))
        self._redis.srem(self._key("active"), job_id)

    def active(self) -> list[JobRecord]:
        ids = sorted(_text(member) for member in self._redis.smembers(self._key("active")))
        if not ids:
            return []
        values = self._redis.mget([self._key("job", job_id) for job_id in ids])
        return list(iter_json(iter(values)))

    def load_result(self, job_id: str) -> dict[str, Any] | None:
        value = self._redis.get(self._key("result", job_id))
        if value is None:
            return None
        result: dict[str, Any] = json.loads(value)
        return result

    def served(self) -> dict[str, int]:
        raw = self._redis.hgetall(self._key("served"))
        return {_text(key): int(value) for key, value in raw.items()}

    def mark_served(self, tenant: str) -> None:
        self._redis.hset(self._key("served"), tenant, self._redis.incr(self._key("seq")))

    def purge_expired(self, now: float) -> None:
        """Redis expires finished jobs itself; this drops ids of records that vanished."""
        ids = [_text(member) for member in self._redis.smembers(self._key("active"))]
        if ids:
            values = self._redis.mget([self._key("job", job_id) for job_id in ids])
            gone = [job_id for job_id, value in zip(ids, values, strict=True) if value is None]
            if gone:
                self._redis.srem(self._key("active"), *gone)

    def result_ids(self) -> list[str]:
        return self._ids("result")

    def job_ids(self) -> list[str]:
        return self._ids("job")

    def _ids(self, kind: str) -> list[str]:
        """The job ids of every ``<prefix><kind>:<job id>`` key."""
        prefix = self._key(kind, "")
        return [_text(key)[len(prefix) :] for key in self._redis.scan_iter(match=prefix + "*")]

    def forget_tenant(self, tenant: str) -> None:
        self._redis.hdel(self._key("served"), tenant)

    def close(self) -> None:
        self._redis.close()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
