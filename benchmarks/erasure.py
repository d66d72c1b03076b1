"""Erasure cost (issue 22, docs/privacy.md): in a gallery of N faces (BENCH_ERASE_FACES,
default 100000; 512 dimensions, 1,000 subjects of N/1,000 faces each), the time to erase one
subject down to the disk (delete, then the scrub of facereid/gallery/erasure.py: Chroma's
client closed, the HNSW files and the write log scrubbed, orphan removal, VACUUM), the first
search after it (Chroma loads the index from disk again), a second subject, and the whole
tenant. The store runs in this process over a temporary folder, as in
the store service. ``BENCH_PARTS=erasure`` runs it alone."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import env_ints
from benchmarks.common import markdown_table as md
from facereid.gallery.store import GalleryStore

SIZES = env_ints("BENCH_ERASE_FACES", "100000")
_BATCH = 5_000


def erase_cost(n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-erase-") as folder:
        store = GalleryStore(str(Path(folder) / "gallery.chroma"), dim=512)
        rng = np.random.default_rng(0)
        started = time.perf_counter()
        for start in range(0, n, _BATCH):
            rows = rng.normal(size=(min(_BATCH, n - start), 512)).astype(np.float32)
            subjects = [f"s{(start + i) % 1000}" for i in range(len(rows))]
            store.enroll("t", "g", "bench/512", rows, subjects, [{}] * len(rows), ["b"] * len(rows))
        enrol_s = time.perf_counter() - started
        started = time.perf_counter()
        erased = store.delete_faces("t", "g", store.face_ids("t", "g", "s7"))
        subject_s = time.perf_counter() - started
        started = time.perf_counter()
        store.search("t", "g", "bench/512", rng.normal(size=(1, 512)).astype(np.float32), 5, 64)
        search_s = time.perf_counter() - started
        started = time.perf_counter()
        store.delete_faces("t", "g", store.face_ids("t", "g", "s8"))
        second_s = time.perf_counter() - started
        started = time.perf_counter()
        tenant = store.erase_tenant("t")
        tenant_s = time.perf_counter() - started
    return {
        "faces": n,
        "enrol_s": enrol_s,
        "subject_faces": len(erased),
        "subject_s": subject_s,
        "search_after_s": search_s,
        "second_subject_s": second_s,
        "tenant_faces": tenant["faces"],
        "tenant_s": tenant_s,
    }


def measure() -> dict[str, Any]:
    return {"erasure": [erase_cost(n) for n in SIZES]}


def table(result: dict[str, Any]) -> str:
    rows = [
        (
            r["faces"],
            r["enrol_s"],
            r["subject_faces"],
            r["subject_s"],
            r["search_after_s"],
            r["second_subject_s"],
            r["tenant_faces"],
            r["tenant_s"],
        )
        for r in result["erasure"]
    ]
    headers = (
        "gallery faces",
        "enrol s",
        "subject's faces",
        "erase subject s",
        "first search after s",
        "erase another subject s",
        "tenant's faces",
        "erase tenant s",
    )
    return md(headers, rows)
