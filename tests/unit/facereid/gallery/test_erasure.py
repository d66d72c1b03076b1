"""Erasure reaches the disk (issue 22): after a subject delete, a face delete, a gallery drop
or a tenant erase, no file under the store's folder holds the erased vector's float32 bytes,
the subject's name or its metadata. Real embedded Chroma, no fakes: the disk is under test."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from facereid.gallery import erasure
from facereid.gallery.operations import GalleryOperations
from facereid.gallery.store import GalleryStore

Setup = tuple[GalleryStore, GalleryOperations, dict[str, list[bytes]]]

MODEL = "test/unit/512"
NAME = "Jane Q Public"
SECRET = "passport-X1234567"
OTHERS = 1_500  # past Chroma's sync threshold (1,000): the vectors reach the HNSW files


def unit(rows: np.ndarray) -> np.ndarray:
    return np.asarray(rows / np.linalg.norm(rows, axis=1, keepdims=True), dtype=np.float32)


def chunks(data: bytes, size: int = 32) -> list[bytes]:
    """A vector as 32-byte runs: SQLite may split a 2 KiB value over page boundaries, so a
    file holds the vector if it holds any run of it."""
    return [data[i : i + size] for i in range(0, len(data), size)]


def files_holding(root: Path, needles: dict[str, list[bytes]]) -> set[tuple[str, str]]:
    found = set()
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found |= {
                (what, path.name)
                for what, runs in needles.items()
                if any(run in data for run in runs)
            }
    return found


def hnsw_copy(root: Path, vector: np.ndarray) -> bytes:
    """The vector as the HNSW file holds it: Chroma normalises it again for cosine space,
    which moves the last bits of some components, so it is found by value, not by bytes."""
    for path in root.rglob("data_level0.bin"):
        data = path.read_bytes()
        values = np.frombuffer(data[: len(data) // 4 * 4], dtype=np.float32)
        with np.errstate(invalid="ignore"):  # unused capacity may read as NaN
            starts = np.flatnonzero(np.abs(values - vector[0]) < 1e-6)
        for start in starts:
            window = values[start : start + len(vector)]
            if len(window) == len(vector) and np.allclose(window, vector, atol=1e-6):
                return window.tobytes()
    raise AssertionError("the enrolled vector is not in any HNSW file")


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    store = GalleryStore(str(tmp_path / "gallery.chroma"), dim=512)
    ops = GalleryOperations(store, {"test": 0.9})
    rng = np.random.default_rng(7)
    known = unit(rng.normal(size=(1, 512)))
    store.enroll("t1", "g", MODEL, known, [NAME], [{"doc": SECRET}], ["src"])
    others = unit(rng.normal(size=(OTHERS, 512)))
    store.enroll("t1", "g", MODEL, others, ["other"] * OTHERS, [{}] * OTHERS, ["o"] * OTHERS)
    store.enroll("t2", "g", MODEL, others[:3], ["kept"] * 3, [{}] * 3, ["o"] * 3)
    needles = {
        "vector": chunks(known.tobytes()),  # as sent: Chroma's SQLite keeps it so
        "hnsw": chunks(hnsw_copy(tmp_path, known[0])),
        "name": [NAME.encode()],
        "meta": [SECRET.encode()],
    }
    yield store, ops, needles
    store.close()


def erase_subject(store: GalleryStore, ops: GalleryOperations) -> None:
    assert ops.delete("t1", "g", face_id=None, subject=NAME).deleted == 1


def erase_face(store: GalleryStore, ops: GalleryOperations) -> None:
    (face_id,) = store.face_ids("t1", "g", NAME)
    assert ops.delete("t1", "g", face_id=face_id, subject=None).deleted == 1


def drop(store: GalleryStore, ops: GalleryOperations) -> None:
    assert ops.drop("t1", "g").deleted == OTHERS + 1


def erase_tenant(store: GalleryStore, ops: GalleryOperations) -> None:
    assert store.erase_tenant("t1") == {"galleries": 1, "faces": OTHERS + 1}


def expire(store: GalleryStore, ops: GalleryOperations) -> None:
    """Retention: only the known face is past a 30-day retention (its created_at is moved
    back 31 days in Chroma's metadata); the sweep erases it by the same path."""
    (face_id,) = store.face_ids("t1", "g", NAME)
    collection = store._collection("t1", "g")
    month_ago = int(time.time() * 1000) - 31 * 86_400_000
    collection.update(ids=[face_id], metadatas=[{"created_at": month_ago}])
    assert store.expire(int(time.time() * 1000), default_days=30) == 1
    assert store.expire(int(time.time() * 1000), default_days=0) == 0  # 0 keeps forever


@pytest.mark.parametrize("erase", [erase_subject, erase_face, drop, erase_tenant, expire])
def test_no_byte_of_the_erased_face_stays_on_disk(
    setup: Setup,
    erase: Callable[[GalleryStore, GalleryOperations], None],
) -> None:
    store, ops, needles = setup
    assert store.folder is not None
    root = Path(store.folder)
    before = files_holding(root, needles)
    # the test can fail: the HNSW file holds the vector, SQLite the name and the metadata
    # (the vector as sent is in SQLite's write queue until Chroma purges it)
    assert {what for what, _ in before} >= {"hnsw", "name", "meta"}
    assert ("hnsw", "data_level0.bin") in before
    collection_id = store._collection("t1", "g").id
    erase(store, ops)
    left = files_holding(root, needles)
    assert left == set(), sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    # every remaining folder is a live segment, and the other tenant's faces are intact
    assert store.count("t2", "g") == 3
    if erase in (erase_subject, erase_face, expire):
        assert store.count("t1", "g") == OTHERS
        hits = store.search("t1", "g", MODEL, unit(np.ones((1, 512))), 1, 64)
        assert hits[0][0]["subject"] == "other"
    if erase in (erase_subject, erase_face):  # scrubbed in place: the collection was kept
        assert store._collection("t1", "g").id == collection_id


@pytest.mark.parametrize("erase", [erase_subject, expire, drop, erase_tenant])
def test_the_erased_bytes_do_not_come_back(
    setup: Setup, erase: Callable[[GalleryStore, GalleryOperations], None]
) -> None:
    """Chroma saves its in-memory index later (every 1,000 writes, and whole on a resize): no
    copy of the erased vector may be left there. After the erasure, 2,500 more faces make it
    save and grow; a store opened anew on the folder replays the log and still searches."""
    store, ops, needles = setup
    assert store.folder is not None
    root = Path(store.folder)
    erase(store, ops)
    rng = np.random.default_rng(11)
    more = unit(rng.normal(size=(2_500, 512)))
    store.enroll("t1", "g", MODEL, more, ["more"] * len(more), [{}] * len(more), ["m"] * len(more))
    assert files_holding(root, needles) == set()
    store.close()
    again = GalleryStore(store.folder, dim=512)
    kept = OTHERS if erase in (erase_subject, expire) else 0  # a drop took the others too
    assert again.count("t1", "g") == kept + len(more)
    hits = again.search("t1", "g", MODEL, more[:3], 1, 64)
    assert [row[0]["similarity"] for row in hits] == pytest.approx([1.0] * 3, abs=1e-5)
    assert again.face_ids("t1", "g", NAME) == []
    again.enroll("t1", "g", MODEL, more[:1], ["x"], [{}], ["x"])  # the reopened index writes
    assert files_holding(root, needles) == set()


def test_an_unknown_hnsw_id_map_falls_back_to_a_rebuild(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An id map the scrub cannot read (a future Chroma's): no vector is overwritten; the
    delete rebuilds the collection instead (a new collection id) and still leaves no byte of
    the face. (An unknown header also stops the zeroing of unused capacity, which then
    leaves freed memory to the store service's malloc perturb: test_freed_memory.py.)"""
    store, ops, needles = setup
    assert store.folder is not None
    before = store._collection("t1", "g").id

    def unknown(id_map: Path, erased: object) -> list[int]:
        raise erasure.UnknownLayoutError(f"{id_map}: no id_to_label")

    monkeypatch.setattr(erasure, "_labels", unknown)
    erase_subject(store, ops)
    assert store._collection("t1", "g").id != before
    assert files_holding(Path(store.folder), needles) == set()
    assert store.count("t1", "g") == OTHERS
