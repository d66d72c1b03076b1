"""A closed-loop HTTP load generator: ``concurrency`` clients, each sending the same request
as soon as its previous one answered, for a fixed time; latencies per request. Servers are
started with the shared harness, ``tests.harness``."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx
import numpy as np


@dataclass
class LoadResult:
    concurrency: int
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def per_s(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def p(self, q: float) -> float:
        return float(np.percentile(self.latencies, q) * 1000) if self.latencies else float("nan")


async def _closed_loop(
    url: str, body: bytes, concurrency: int, seconds: float, warmup: int
) -> LoadResult:
    headers = {"Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:
        for _ in range(warmup):
            (await client.post(url, content=body, headers=headers)).raise_for_status()
        latencies: list[float] = []
        errors = 0
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    response = await client.post(url, content=body, headers=headers)
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return LoadResult(concurrency, len(latencies), errors, elapsed, latencies)


def run_load(
    url: str, body: bytes, concurrency: int, seconds: float, warmup: int = 2
) -> LoadResult:
    return asyncio.run(_closed_loop(url, body, concurrency, seconds, warmup))
