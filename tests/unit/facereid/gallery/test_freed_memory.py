"""Freed memory never reaches a new HNSW file (issue 22, docs/privacy.md).

hnswlib mallocs a small index's element array from the heap and Chroma writes all of it to
disk, so names and vectors that this process freed (a tenant just erased) can land in a
gallery created afterwards. The store service runs with glibc's malloc perturb
(``runners.gallery.ERASURE_ENV``), which overwrites freed blocks. The scenario runs in a fresh
process, once without the setting (it leaks on this machine: the check can fail) and once
with it (no file may hold the name)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runners.gallery import ERASURE_ENV, GalleryStoreService

SCENARIO = """
import pathlib, sys
import numpy as np
from facereid.gallery.store import GalleryStore

NAME = "Jane Q Public"
root = pathlib.Path(sys.argv[1])
store = GalleryStore(str(root), dim=512)
rng = np.random.default_rng(0)

def rows(n):
    x = rng.normal(size=(n, 64))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

for g in range(3):  # small galleries: their arrays come from the heap, not from mmap
    store.enroll("a", f"g{g}", "m", rows(300), [NAME] * 300, [{"doc": NAME}] * 300, ["s"] * 300)
store.enroll("b", "kept", "m", rows(1), [None], [{}], ["x"])
store.erase_tenant("a")
store.search("b", "kept", "m", rows(1), 1, 10)
for g in range(3):  # new galleries after the erasure
    store.enroll("b", f"new{g}", "m", rows(2), [None] * 2, [{}] * 2, ["x"] * 2)
    store.search("b", f"new{g}", "m", rows(1), 1, 10)
hits = [p.name for p in root.rglob("*") if p.is_file() and NAME.encode() in p.read_bytes()]
print("FILES_HOLDING_THE_NAME", len(hits))
"""


def files_holding_the_name(tmp_path: Path, env: dict[str, str]) -> int:
    done = subprocess.run(
        [sys.executable, "-c", SCENARIO, str(tmp_path / "gallery.chroma")],
        env={**{k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("FILES_HOLDING_THE_NAME"))
    return int(line.split()[1])


def test_the_store_service_runs_with_malloc_perturb() -> None:
    service: Any = GalleryStoreService  # a bentoml Service, which mypy cannot see
    envs = {env.name: env.value for env in service.envs}
    assert envs[ERASURE_ENV["name"]] == ERASURE_ENV["value"]
    assert ERASURE_ENV["value"].startswith("glibc.malloc.perturb=")


def test_no_freed_name_lands_in_a_new_hnsw_file(tmp_path: Path) -> None:
    if files_holding_the_name(tmp_path / "plain", {}) == 0:
        pytest.skip("this heap did not reproduce the leak without perturb: nothing to prove")
    setting = {ERASURE_ENV["name"]: ERASURE_ENV["value"]}
    assert files_holding_the_name(tmp_path / "perturbed", setting) == 0
