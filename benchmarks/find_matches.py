"""/find_matches through HTTP on galleries of 1k, 10k, 100k rows x 512, as JSON floats and as
one base64 float32 blob, against the time to parse the float body alone (``json.loads``, and
the pydantic validation of ``list[list[float]]`` that BentoML runs on it)."""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import httpx
from pydantic import BaseModel

from benchmarks.common import env_ints, markdown_table
from loadtests.payloads import gallery


class FloatBody(BaseModel):
    """The float form's fields as the service declares them."""

    target_embedding: list[float]
    embeddings: list[list[float]]
    threshold: float = 0.5
    top_k: int | None = None


@dataclass
class MatchRow:
    rows: int
    float_body_mb: float
    b64_body_mb: float
    json_loads_ms: float
    pydantic_ms: float
    service_float_ms: float
    service_b64_ms: float

    @property
    def float_vs_parse(self) -> float:
        return self.service_float_ms / self.json_loads_ms

    @property
    def b64_vs_parse(self) -> float:
        return self.service_b64_ms / self.json_loads_ms


def _median_ms(fn: Callable[[], Any], reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def _post(client: httpx.Client, url: str, body: bytes) -> Callable[[], None]:
    def call() -> None:
        response = client.post(url, content=body, headers={"Content-Type": "application/json"})
        if response.status_code != 200:
            raise RuntimeError(
                f"/find_matches answered {response.status_code}: {response.text[:300]}"
            )
        if not response.json():
            raise RuntimeError("/find_matches found none of the planted rows")

    return call


def measure(base_url: str) -> list[MatchRow]:
    results = []
    with httpx.Client(timeout=600) as client:
        for n in env_ints("BENCH_FM_ROWS", "1000,10000,100000"):
            reps = int(os.environ.get("BENCH_FM_REPS", "0")) or (5 if n <= 10_000 else 1)
            g = gallery(n)
            float_body = json.dumps(g.float_body()).encode()
            b64_body = json.dumps(g.b64_body()).encode()
            url = f"{base_url}/find_matches"
            try:
                _post(client, url, b64_body)()  # warm the route
                row = MatchRow(
                    rows=n,
                    float_body_mb=len(float_body) / 1e6,
                    b64_body_mb=len(b64_body) / 1e6,
                    json_loads_ms=_median_ms(partial(json.loads, float_body), reps),
                    pydantic_ms=_median_ms(
                        partial(FloatBody.model_validate_json, float_body), reps
                    ),
                    service_float_ms=_median_ms(_post(client, url, float_body), reps),
                    service_b64_ms=_median_ms(_post(client, url, b64_body), reps),
                )
            except (RuntimeError, httpx.HTTPError, MemoryError) as exc:
                # keep the smaller galleries' numbers when a big one fails
                print(f"find_matches {n} rows failed: {exc}", file=sys.stderr, flush=True)
                continue
            finally:
                del float_body, b64_body, g
            results.append(row)
    return results


def table(rows: list[dict[str, Any]]) -> str:
    headers = (
        "rows x 512",
        "float body MB",
        "b64 body MB",
        "json.loads ms",
        "pydantic ms",
        "service float ms",
        "service b64 ms",
        "float / json.loads",
        "b64 / json.loads",
    )
    body = [
        (
            r["rows"],
            r["float_body_mb"],
            r["b64_body_mb"],
            r["json_loads_ms"],
            r["pydantic_ms"],
            r["service_float_ms"],
            r["service_b64_ms"],
            r["service_float_ms"] / r["json_loads_ms"],
            r["service_b64_ms"] / r["json_loads_ms"],
        )
        for r in rows
    ]
    return markdown_table(headers, body)


def as_dicts(rows: list[MatchRow]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]
