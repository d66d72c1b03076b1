"""Clustering under attack (issue 21, docs/security.md): what a large clustering costs, and
what it does to another tenant.

1. ``facereid.gallery.clustering.cluster_faces`` on 10k and 50k unnamed faces (512-d, five
   photos per person, threshold 0.5; and 10k at ``threshold -1``, the attack that made every
   pair an edge), each in a fresh process: seconds and peak RSS over the process's own
   baseline with the vectors loaded.
2. A real server (dlib engine, two tenants): tenant A enrols ``BENCH_ATTACK_ROWS`` (20,000)
   unnamed faces and clusters them; tenant B calls ``/gallery/list`` back to back, first
   alone, then while A's clustering runs: B's p50/p99 in both phases.

    python -m benchmarks.gallery_attack          (or BENCH_PARTS=attack make bench)
"""

from __future__ import annotations

import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from tests.harness import start_server

REPO_ROOT = Path(__file__).resolve().parents[1]
DIM = 512
ROWS = int(os.environ.get("BENCH_ATTACK_ROWS", "20000"))
SIZES = [int(n) for n in os.environ.get("BENCH_ATTACK_CLUSTER_SIZES", "10000,50000").split(",")]

# tracemalloc sees numpy's allocations: its peak is what the clustering itself held at once
# (the vectors excluded); ru_maxrss is the whole process, data generation included.
_CHILD = """
import json, resource, sys, time, tracemalloc
import numpy as np
from facereid.gallery.clustering import cluster_faces
n, threshold = int(sys.argv[1]), float(sys.argv[2])
rng = np.random.default_rng(0)
rows = np.empty((n, 512), np.float32)
for start in range(0, n, 5000):
    block = rng.normal(size=(1000, 512)).repeat(5, axis=0)[: min(5000, n - start)]
    block = block + rng.normal(scale=0.6, size=block.shape)
    rows[start:start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
tracemalloc.start()
t0 = time.perf_counter()
clusters = cluster_faces(rows, [""] * n, threshold, 3)
seconds = time.perf_counter() - t0
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
print(json.dumps({"faces": n, "threshold": threshold, "seconds": seconds,
                  "clusters": len(clusters), "traced_peak_mb": peak / 2**20,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def cluster_cost(n: int, threshold: float) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(n), str(threshold)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _blob(rows: np.ndarray) -> str:
    return base64.b64encode(rows.astype("<f4").tobytes()).decode()


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
    }


def other_tenant_latency() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        env = {"FACE_ENGINE": "auto", "API_KEYS": "ka,kb", "DATA_DIR": str(root / "data")}
        with start_server("service:FaceReID", root / "home", root / "server.log", env) as server:
            a, b = {"Authorization": "Bearer ka"}, {"Authorization": "Bearer kb"}
            rng = np.random.default_rng(1)
            centres = rng.normal(size=(ROWS // 5 + 1, DIM))
            rows = np.repeat(centres, 5, axis=0)[:ROWS] + rng.normal(scale=0.6, size=(ROWS, DIM))
            rows /= np.linalg.norm(rows, axis=1, keepdims=True)
            with httpx.Client(base_url=server.url, timeout=600) as client:
                for start in range(0, ROWS, 1000):
                    body = {
                        "gallery": "crowd",
                        "embedding_model": "bench/attack/512",
                        "embeddings_b64": _blob(rows[start : start + 1000]),
                        "dim": DIM,
                    }
                    client.post("/gallery/enroll_batch", json=body, headers=a).raise_for_status()
                client.post("/gallery/enroll_batch", json={**body, "gallery": "own"}, headers=b)

                def timed_list() -> float:
                    t0 = time.perf_counter()
                    client.post("/gallery/list", json={}, headers=b).raise_for_status()
                    return time.perf_counter() - t0

                idle = [timed_list() for _ in range(100)]
                answer: dict[str, Any] = {}

                def cluster() -> None:
                    t0 = time.perf_counter()
                    with httpx.Client(base_url=server.url, timeout=600) as other:
                        body = {"gallery": "crowd", "threshold": 0.5, "min_faces": 3}
                        response = other.post("/gallery/cluster", json=body, headers=a)
                    answer.update(status=response.status_code, seconds=time.perf_counter() - t0)
                    answer.update(body=response.text[:500])

                worker = threading.Thread(target=cluster)
                worker.start()
                during = []
                while worker.is_alive():
                    during.append(timed_list())
                worker.join()
            if answer["status"] != 200:  # say why in the report, not only the status
                answer["error"] = answer["body"] + "\n" + server.log()[-3000:]
    return {
        "rows": ROWS,
        "cluster_status": answer["status"],
        "cluster_s": answer["seconds"],
        "cluster_error": answer.get("error", ""),
        "idle": _percentiles(idle),
        "during": _percentiles(during),
    }


def measure() -> dict[str, Any]:
    costs = [cluster_cost(n, 0.5) for n in SIZES] + [cluster_cost(10_000, -1.0)]
    return {"cluster": costs, "tenant_b": other_tenant_latency()}


def table(result: dict[str, Any]) -> str:
    lines = [
        "| faces | threshold | seconds | clusters | clustering's peak allocation (MB) "
        "| process peak RSS (MB) |",
        "|---|---|---|---|---|---|",
    ]
    for c in result["cluster"]:
        lines.append(
            f"| {c['faces']:,} | {c['threshold']} | {c['seconds']:.1f} | {c['clusters']:,} "
            f"| {c['traced_peak_mb']:.0f} | {c['max_rss_mb']:.0f} |"
        )
    b = result["tenant_b"]
    lines += [
        "",
        f"Tenant B's `/gallery/list` while tenant A clusters {b['rows']:,} faces "
        f"(status {b['cluster_status']}, {b['cluster_s']:.1f} s):",
        "",
        "| phase | requests | p50 (ms) | p99 (ms) |",
        "|---|---|---|---|",
    ]
    for phase in ("idle", "during"):
        p = b[phase]
        lines.append(f"| {phase} | {p['n']} | {p['p50_ms']:.1f} | {p['p99_ms']:.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    measured = measure()
    print(json.dumps(measured, indent=1))
    print(table(measured))
