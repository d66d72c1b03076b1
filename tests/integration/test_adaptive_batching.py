"""Adaptive batching really happens under concurrent requests, and batched results equal
unbatched ones."""

from __future__ import annotations

import base64
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.harness import Server
from tests.integration.payloads import b64_file

pytestmark = pytest.mark.slow

BATCH_METRIC = re.compile(
    r"^bentoml_service_adaptive_batch_size_(sum|count)\{[^}]*"
    r'method_name="(?:detect_embed|analyze_encoded)"'
    r'[^}]*runner_name="FaceModel"[^}]*\} ([0-9.e+]+)$',
    re.MULTILINE,
)


def batch_stats(server: Server) -> tuple[float, float]:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    values = dict.fromkeys(("sum", "count"), 0.0)
    for kind, value in BATCH_METRIC.findall(text):
        values[kind] += float(value)
    return values["sum"], values["count"]


def test_concurrent_requests_are_batched_with_identical_results(
    synthetic_server: Server, t1_path: Path
) -> None:
    body = {"image_data": b64_file(t1_path), "include_emotions": False}
    with synthetic_server.client() as client:
        alone = client.post("/analyze", json=body).json()
    before_sum, before_count = batch_stats(synthetic_server)

    def call(i: int) -> dict[str, Any]:
        # Bytes after the JPEG's end marker: the same picture, but not a cache hit.
        unique = base64.b64encode(t1_path.read_bytes() + b"request-%d" % i).decode()
        request = {**body, "image_data": unique}
        response = httpx.post(f"{synthetic_server.url}/analyze", json=request, timeout=120)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(call, range(32)))

    after_sum, after_count = batch_stats(synthetic_server)
    images, batches = after_sum - before_sum, after_count - before_count
    assert images == 32
    assert batches < images, f"{images} images went through {batches} model calls"
    for result in results:
        assert result["bbox"] == alone["bbox"]
        assert np.allclose(result["embedding"], alone["embedding"], atol=1e-5)
