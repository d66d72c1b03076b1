"""A closed-loop HTTP load generator: ``concurrency`` clients, each sending the same request
as soon as its previous one answered, for a fixed time; latencies per request. Servers are
started with the shared harness, ``tests.harness``.

aiohttp, not httpx: the generator runs on the same two cores as the server it measures, and
httpx cost 2.5 ms of CPU per /analyze request (its 218 KB body and JSON answer), a seventh of
all the CPU a request took at 1024 px with the tiny models; ``cpu_ms_per_request`` reports
what this generator spent, so that share stays visible."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp
import numpy as np


@dataclass
class LoadResult:
    concurrency: int
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    cpu_ms_per_request: float = 0.0  # this generator's own CPU, per request sent

    @property
    def per_s(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def p(self, q: float) -> float:
        return float(np.percentile(self.latencies, q) * 1000) if self.latencies else float("nan")


async def _closed_loop(
    url: str, body: bytes, concurrency: int, seconds: float, warmup: int
) -> LoadResult:
    headers = {"Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        for _ in range(warmup):
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                response.raise_for_status()
        latencies: list[float] = []
        errors = 0
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        ok = response.status == 200
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors += 1

        cpu0 = time.process_time()
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu0
    cpu_ms = 1000 * cpu / max(1, len(latencies) + errors)
    return LoadResult(concurrency, len(latencies), errors, elapsed, latencies, cpu_ms)


def run_load(
    url: str, body: bytes, concurrency: int, seconds: float, warmup: int = 2
) -> LoadResult:
    return asyncio.run(_closed_loop(url, body, concurrency, seconds, warmup))
