"""Gallery store benchmark (issue 13, docs/gallery.md): the Chroma store vs exact numpy search.

In one run, on one set of rows: enrol N x 512 rows through ``GalleryOperations.enroll`` in
batches of 1,000 (what one /gallery/enroll_batch call runs in the store service, without the
HTTP hop), wait for the HNSW index, then per query: the store's search (the gallery's own
collection, with subject and metadata) against exact numpy search (one BLAS matvec +
argpartition over the same rows), p50 of each and recall@10 of the store against the exact
top 10. Then DBSCAN clustering of unnamed faces (``facereid.gallery.clustering``) and the whole
/gallery/cluster operation (scan from the store + clustering).

    python -m benchmarks.gallery                          # 100k rows, 200 queries
    BENCH_GALLERY_ROWS=1000000 python -m benchmarks.gallery

Then the same first BENCH_GALLERY_HTTP_ROWS rows (default 20,000; 0 skips it) are enrolled
again twice, each into a fresh store: in-process as above, and over HTTP through
/gallery/enroll_batch of a ``bentoml serve`` server (dlib engine, no models needed; one blob
of 1,000 float32 rows per call, one client), so the route's own cost shows beside the store's.

Data: BENCH_GALLERY_DATA=people (default) draws faces around 1 centre per 10 rows (a gallery of
people with several photos each, as face embeddings are); ``random`` uses unit vectors with no
structure (the worst case for any ANN index; the issue's orientation numbers used it).
BENCH_GALLERY_URI=http://chroma:8000 measures a Chroma server instead of a fresh embedded
folder. Bounded: BENCH_GALLERY_DEADLINE_S (default 1500) stops the run early, saying so.
"""

from __future__ import annotations

import base64
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import markdown_table as md
from facereid.gallery.chroma import collection_name
from facereid.gallery.clustering import cluster_faces
from facereid.gallery.operations import GalleryOperations
from facereid.gallery.store import GalleryStore

DIM = 512
BATCH = 1000
MODEL = "bench/synthetic/512"


def log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def unit(rows: np.ndarray) -> np.ndarray:
    out: np.ndarray = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
    return out


def make_rows(n: int, kind: str, rng: np.random.Generator, per_person: int = 10) -> np.ndarray:
    if kind == "random":
        return unit(rng.normal(size=(n, DIM)).astype(np.float32))
    centres = unit(rng.normal(size=(n // per_person + 1, DIM)).astype(np.float32))
    owner = np.arange(n) // per_person
    # noise 0.045 per dimension: same-person cosine ~0.7, like ArcFace pairs of one person
    return unit(centres[owner] + rng.normal(scale=0.045, size=(n, DIM)).astype(np.float32))


def blob(rows: np.ndarray) -> str:
    return base64.b64encode(rows.astype("<f4").tobytes()).decode()


def enrol(ops: GalleryOperations, gallery: str, chunk: np.ndarray, sources: list[str]) -> list[str]:
    """One /gallery/enroll_batch's work in the store service: unnamed rows, no metadata."""
    n = len(chunk)
    return ops.enroll("bench", gallery, MODEL, chunk, [None] * n, [{}] * n, sources).face_ids


def wait_for_index(store: GalleryStore, deadline: float) -> float:
    """Wait until a Chroma server has indexed every logged write. Embedded Chroma applies
    each write to the HNSW index before the call returns (it has no indexing status)."""
    start = time.perf_counter()
    collection = store.client.get_collection(collection_name("bench", "g"))
    while time.monotonic() < deadline:
        try:
            if collection.get_indexing_status().num_unindexed_ops == 0:
                break
        except NotImplementedError:  # embedded: already indexed
            break
        time.sleep(0.5)
    return time.perf_counter() - start


def measure_gallery() -> dict[str, Any]:
    """The whole run; the numbers as a dict (``make bench``'s gallery part stores them)."""
    n = int(os.environ.get("BENCH_GALLERY_ROWS", "100000"))
    queries = int(os.environ.get("BENCH_GALLERY_QUERIES", "200"))
    kind = os.environ.get("BENCH_GALLERY_DATA", "people")
    ef = int(os.environ.get("BENCH_GALLERY_EF", "256"))
    ef_construction = int(os.environ.get("BENCH_GALLERY_EF_CONSTRUCTION", "200"))
    hnsw_m = int(os.environ.get("BENCH_GALLERY_M", "16"))
    cluster_n = int(os.environ.get("BENCH_GALLERY_CLUSTER_ROWS", "10000"))
    deadline = time.monotonic() + float(os.environ.get("BENCH_GALLERY_DEADLINE_S", "1500"))
    rng = np.random.default_rng(0)
    rows = make_rows(n, kind, rng)
    # queries: other photos of enrolled people (a stored row plus fresh noise)
    picks = rng.integers(0, n, size=queries)
    probes = unit(rows[picks] + rng.normal(scale=0.03, size=(queries, DIM)).astype(np.float32))
    rss_before_mb = _rss_mb()

    with tempfile.TemporaryDirectory() as folder:
        # BENCH_GALLERY_URI: a Chroma server to measure instead (the run's galleries are
        # tenant "bench"; drop them first if a previous run left them)
        uri = os.environ.get("BENCH_GALLERY_URI") or str(Path(folder) / "gallery.chroma")
        store = GalleryStore(
            uri, dim=DIM, hnsw_m=hnsw_m, ef_construction=ef_construction, search_ef=ef
        )
        ops = GalleryOperations(store, {"bench": 0.3}, search_ef=ef)
        start = time.perf_counter()
        enrolled = 0
        face_ids: list[str] = []
        for first in range(0, n, BATCH):
            if time.monotonic() > deadline:
                log(f"deadline reached after {enrolled} rows")
                break
            chunk = rows[first : first + BATCH]
            face_ids += enrol(ops, "g", chunk, [""] * len(chunk))
            enrolled += len(chunk)
            if enrolled % 100_000 == 0:
                log(f"  {enrolled} rows, {enrolled / (time.perf_counter() - start):,.0f}/s")
        enrol_s = time.perf_counter() - start
        rows = rows[:enrolled]
        index_wait_s = wait_for_index(store, deadline)
        log(f"enrolled {enrolled} in {enrol_s:.1f}s, index ready {index_wait_s:.1f}s later")
        store_rss_mb = _rss_mb() - rss_before_mb
        disk_mb = _folder_mb(Path(folder))

        # ef_search is fixed when Chroma creates the collection: one ef per run (changing it
        # in place with collection.modify did not change recall in the same process)
        p50_ann, p50_exact, recall, queried = measure(store, rows, probes, face_ids, ef, deadline)
        # the whole /gallery/cluster operation on unnamed faces, in a gallery of its own
        people = make_rows(cluster_n, "people", rng, per_person=5)
        for first in range(0, cluster_n, BATCH):
            chunk = people[first : first + BATCH]
            enrol(ops, "unnamed", chunk, [f"img{first + i}" for i in range(len(chunk))])
        t0 = time.perf_counter()
        result = ops.cluster("bench", "unnamed", min_faces=3, threshold=0.5)
        cluster_op_s = time.perf_counter() - t0
        store.close()

    t0 = time.perf_counter()
    clusters = cluster_faces(people, [""] * cluster_n, threshold=0.5, min_faces=3)
    cluster_s = time.perf_counter() - t0
    http_rows = min(int(os.environ.get("BENCH_GALLERY_HTTP_ROWS", "20000")), enrolled)
    http = measure_http_enrol(rows[:http_rows], deadline) if http_rows else {}
    return {
        **http,
        "data": kind,
        "rows": enrolled,
        "dim": DIM,
        "hnsw_m": hnsw_m,
        "ef_construction": ef_construction,
        "ef": ef,
        "enrol_rows_per_s": enrolled / enrol_s,
        "index_wait_s": index_wait_s,
        "search_p50_ms": p50_ann,
        "exact_p50_ms": p50_exact,
        "recall_at_10": recall,
        "queries": queried,
        "store_rss_growth_mb": store_rss_mb,
        "disk_mb": disk_mb if "BENCH_GALLERY_URI" not in os.environ else None,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cluster_faces": cluster_n,
        "dbscan_s": cluster_s,
        "clusters": len(clusters),
        "pure_clusters": sum(len({m // 5 for m in c.members}) == 1 for c in clusters),
        "cluster_operation_s": cluster_op_s,
        "cluster_operation_clusters": len(result.clusters),
        "unclustered": result.unclustered,
    }


def table(r: dict[str, Any]) -> str:
    headers = (
        "data",
        "rows x dim",
        "M / ef_construction / ef",
        "enrol rows/s",
        "search p50 ms",
        "exact numpy p50 ms",
        "ratio",
        "recall@10",
        "store RSS growth MB",
        "on disk MB",
    )
    row = (
        r["data"],
        f"{r['rows']:,} x {r['dim']}",
        f"{r['hnsw_m']} / {r['ef_construction']} / {r['ef']}",
        round(r["enrol_rows_per_s"]),
        r["search_p50_ms"],
        r["exact_p50_ms"],
        r["search_p50_ms"] / r["exact_p50_ms"],
        r["recall_at_10"],
        round(r["store_rss_growth_mb"]),
        "-" if r["disk_mb"] is None else round(r["disk_mb"]),
    )
    clustering = (
        f"Clustering {r['cluster_faces']:,} unnamed faces ({r['cluster_faces'] // 5:,} people x 5):"
        f" DBSCAN {r['dbscan_s']:.1f} s, {r['clusters']} clusters, {r['pure_clusters']} pure;"
        f" the /gallery/cluster operation (scan + cluster) {r['cluster_operation_s']:.1f} s,"
        f" {r['unclustered']} faces unclustered."
    )
    if r.get("http_rows"):
        clustering += (
            f" Enrolling the first {r['http_rows']:,} rows again into fresh stores:"
            f" {r['http_in_process_rows_per_s']:,.0f} rows/s in-process,"
            f" {r['http_rows_per_s']:,.0f} rows/s through /gallery/enroll_batch over HTTP."
        )
    return md(headers, [row]) + "\n\n" + clustering


def ratios(r: dict[str, Any]) -> list[tuple[str, str, float, str]]:
    """Issue 13's goals; the 1M goal (search <= 0.5x numpy) applies from 1M rows."""
    ratio = r["search_p50_ms"] / r["exact_p50_ms"]
    big = r["rows"] >= 1_000_000
    goal = 0.5 if big else 1.5
    rows = f"{r['rows']:,}"
    http = []
    if r.get("http_rows"):
        # a fresh store's first rows insert faster than the 100k above: the HTTP rate is
        # compared with the same rows in-process, not with the goal
        http.append(
            (
                f"gallery enrolment over HTTP / in-process, first {r['http_rows']:,} rows",
                "-",
                r["http_rows_per_s"] / r["http_in_process_rows_per_s"],
                "",
            )
        )
    return [
        (f"gallery search p50 / exact numpy, {rows} rows", f"<= {goal}", ratio, _ok(ratio <= goal)),
        (
            f"gallery recall@10, {rows} rows",
            ">= 0.98",
            r["recall_at_10"],
            _ok(r["recall_at_10"] >= 0.98),
        ),
        (
            f"gallery enrolment rows/s, batches of {BATCH}",
            ">= 2000",
            r["enrol_rows_per_s"],
            _ok(r["enrol_rows_per_s"] >= 2000),
        ),
        *http,
        (
            f"/gallery/cluster of {r['cluster_faces']:,} unnamed faces, s",
            "< 30",
            r["cluster_operation_s"],
            _ok(r["cluster_operation_s"] < 30),
        ),
    ]


def measure_http_enrol(rows: np.ndarray, deadline: float) -> dict[str, Any]:
    """Rows/s of the same rows enrolled in-process and through /gallery/enroll_batch."""
    import httpx

    from tests.harness import start_server

    with tempfile.TemporaryDirectory() as folder:
        ops = GalleryOperations(GalleryStore(str(Path(folder) / "gallery.chroma"), dim=DIM), {})
        start = time.perf_counter()
        for first in range(0, len(rows), BATCH):
            chunk = rows[first : first + BATCH]
            enrol(ops, "g", chunk, [""] * len(chunk))
        in_process_rate = len(rows) / (time.perf_counter() - start)
        ops.store.close()
    with tempfile.TemporaryDirectory() as home:
        env = {"FACE_ENGINE": "dlib", "ANALYSIS_CACHE": "0", "MODELS_AUTO_PULL": "0"}
        log_path = Path(home) / "server.log"
        with start_server("service:FaceReID", Path(home), log_path, env) as server:
            with httpx.Client(base_url=server.url, timeout=120) as client:
                start = time.perf_counter()
                for first in range(0, len(rows), BATCH):
                    if time.monotonic() > deadline:
                        log(f"deadline reached after {first} rows over HTTP")
                        rows = rows[:first]
                        break
                    chunk = rows[first : first + BATCH]
                    body = {
                        "gallery": "g",
                        "embedding_model": MODEL,
                        "embeddings_b64": blob(chunk),
                        "dim": DIM,
                    }
                    answer = client.post("/gallery/enroll_batch", json=body)
                    answer.raise_for_status()
                    assert len(answer.json()["face_ids"]) == len(chunk)
                http_s = time.perf_counter() - start
    # a deadline may cut the HTTP loop short: each rate is over the rows that loop enrolled
    http_rate = len(rows) / http_s if len(rows) else 0.0
    log(f"enrolment: {in_process_rate:,.0f} rows/s in-process, {http_rate:,.0f} over HTTP")
    return {
        "http_rows": len(rows),
        "http_in_process_rows_per_s": in_process_rate,
        "http_rows_per_s": http_rate,
    }


def _ok(passed: bool) -> str:
    return "met" if passed else "NOT met"


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def main() -> None:
    r = measure_gallery()
    print(table(r))
    print()
    print(md(("ratio", "goal", "value", ""), ratios(r)))


def measure(
    store: GalleryStore,
    rows: np.ndarray,
    probes: np.ndarray,
    face_ids: list[str],
    ef: int,
    deadline: float,
) -> tuple[float, float, float, int]:
    """p50 of the store's search and of exact numpy search, recall@10, queries run."""
    store.search("bench", "g", MODEL, probes[:1], 10, ef)  # warm: caches
    ann_ms: list[float] = []
    exact_ms: list[float] = []
    recall: list[float] = []
    for probe in probes:
        if time.monotonic() > deadline:
            log(f"deadline reached after {len(ann_ms)} queries")
            break
        t0 = time.perf_counter()
        hits = store.search("bench", "g", MODEL, probe[None, :], 10, ef)[0]
        ann_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        sims = rows @ probe
        top = np.argpartition(-sims, 10)[:10]
        top = top[np.argsort(-sims[top])]
        exact_ms.append((time.perf_counter() - t0) * 1000)
        exact = {face_ids[i] for i in top.tolist()}
        recall.append(len(exact & {h["face_id"] for h in hits}) / 10)
    return (
        statistics.median(ann_ms),
        statistics.median(exact_ms),
        statistics.mean(recall),
        len(ann_ms),
    )


if __name__ == "__main__":
    main()
