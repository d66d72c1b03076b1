"""The client gate (facereid/gallery/gate.py): a swap runs alone, a waiting swap goes before
new reads, a nested read never waits for it; and with the real store, searches that run while
a subject is erased all answer (the erasure closes and reopens Chroma's client)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from facereid.gallery.gate import ClientGate
from facereid.gallery.store import GalleryStore

MODEL = "test/unit/512"


def test_a_swap_waits_for_reads_and_then_runs_alone() -> None:
    gate = ClientGate()
    reading, swapped, read_after = threading.Event(), threading.Event(), threading.Event()
    order: list[str] = []

    def swap() -> None:
        with gate.alone():
            order.append("swap")
        swapped.set()

    def late_read() -> None:
        with gate.shared():
            order.append("late read")
        read_after.set()

    with gate.shared():
        reading.set()
        swapper = threading.Thread(target=swap)
        swapper.start()
        for _ in range(5_000):  # until the swap waits for this read (at most 5 s)
            if gate._waiting:
                break
            threading.Event().wait(0.001)
        assert gate._waiting == 1
        late = threading.Thread(target=late_read)
        late.start()
        with gate.shared():  # nested in this thread's read: goes on, no deadlock
            order.append("nested read")
        assert not swapped.wait(0.05) and not read_after.wait(0.05)
        order.append("first read ends")
    swapper.join(5)
    late.join(5)
    assert order == ["nested read", "first read ends", "swap", "late read"]


def test_searches_during_an_erasure_all_answer(tmp_path: Path) -> None:
    store = GalleryStore(str(tmp_path / "gallery.chroma"), dim=512)
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(1_200, 512)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    subjects = [f"s{i % 40}" for i in range(len(rows))]
    store.enroll("t", "g", MODEL, rows, subjects, [{}] * len(rows), ["x"] * len(rows))
    stop = threading.Event()

    def search_until_stopped() -> int:
        done = 0
        while not stop.is_set() or done == 0:
            hits = store.search("t", "g", MODEL, rows[100:101], 1, 64)
            assert hits[0][0]["subject"] == "s20"
            done += 1
        return done

    with ThreadPoolExecutor(3) as pool:
        searches = [pool.submit(search_until_stopped) for _ in range(3)]
        for subject in ("s1", "s2", "s3"):
            erased = store.delete_faces("t", "g", store.face_ids("t", "g", subject))
            assert len(erased) == 30
        stop.set()
        assert all(f.result(timeout=30) > 0 for f in searches)  # none raised
    assert store.count("t", "g") == len(rows) - 90
    store.close()
