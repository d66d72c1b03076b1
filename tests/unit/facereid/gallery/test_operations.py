"""GalleryOperations over a real embedded Chroma folder (no fakes: the store is under test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from facereid.errors import EmbeddingModelMismatchError
from facereid.gallery.errors import GalleryNotFoundError
from facereid.gallery.operations import GalleryOperations, threshold_for
from facereid.gallery.store import GalleryStore

MODEL = "test/unit/16"


def unit_rows(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return np.asarray(rows / np.linalg.norm(rows, axis=1, keepdims=True))


@pytest.fixture
def ops(tmp_path: Path) -> Iterator[GalleryOperations]:
    store = GalleryStore(str(tmp_path / "gallery.db"), dim=32)
    yield GalleryOperations(store, {"test": 0.9})
    store.close()


def enroll(
    ops: GalleryOperations,
    rows: np.ndarray,
    subjects: list[str | None],
    tenant: str = "t1",
    gallery: str = "g",
    sources: list[str] | None = None,
) -> list[str]:
    result = ops.enroll(
        tenant,
        gallery,
        MODEL,
        rows,
        subjects,
        [{"n": i} for i in range(len(rows))],
        sources or [""] * len(rows),
    )
    ids: list[str] = result.face_ids
    return ids


def test_search_finds_each_enrolled_vector_first(ops: GalleryOperations) -> None:
    rows = unit_rows(20)
    enroll(ops, rows, [f"s{i}" for i in range(20)])
    found = ops.search("t1", "g", MODEL, rows, top_k=3, threshold=None).model_dump()
    assert found["threshold"] == 0.9  # the engine prefix "test" picks the configured one
    for i, matches in enumerate(found["results"]):
        assert matches[0]["subject"] == f"s{i}"
        assert matches[0]["similarity"] == pytest.approx(1.0, abs=1e-4)
        assert matches[0]["metadata"] == {"n": i}
        assert all(m["similarity"] >= 0.9 for m in matches)  # random others are far below


def test_other_tenant_and_unknown_gallery_are_not_found(ops: GalleryOperations) -> None:
    enroll(ops, unit_rows(2), ["a", "b"])
    with pytest.raises(GalleryNotFoundError):
        ops.search("t2", "g", MODEL, unit_rows(1), top_k=1, threshold=0.0).model_dump()
    with pytest.raises(GalleryNotFoundError):
        ops.faces("t2", "g", None, 10, None).model_dump()
    with pytest.raises(GalleryNotFoundError):
        ops.drop("t1", "missing").model_dump()
    assert ops.list("t2").model_dump() == {"galleries": []}
    assert ops.list("t1").model_dump()["galleries"] == [
        {"gallery": "g", "embedding_model": MODEL, "dim": 16, "faces": 2, "retention_days": 1095.0}
    ]


def test_model_is_bound_by_the_first_face(ops: GalleryOperations) -> None:
    enroll(ops, unit_rows(1), ["a"])
    with pytest.raises(EmbeddingModelMismatchError):
        ops.enroll("t1", "g", "other/model/16", unit_rows(1), ["b"], [{}], [""])
    with pytest.raises(EmbeddingModelMismatchError):  # same name, other width
        ops.search("t1", "g", MODEL, unit_rows(1, dim=8), top_k=1, threshold=None).model_dump()


def test_pages_cover_every_subject_and_face_once(ops: GalleryOperations) -> None:
    ids = enroll(ops, unit_rows(7), ["a", "b", "b", "c", "d", None, None])
    seen, after = [], None
    while True:
        page = ops.subjects("t1", "g", 2, after).model_dump()
        seen += [(s["subject"], s["faces"]) for s in page["subjects"]]
        if (after := page["next"]) is None:
            break
    assert seen == [("a", 1), ("b", 2), ("c", 1), ("d", 1)]
    faces, after = [], None
    while True:
        page = ops.faces("t1", "g", None, 3, after).model_dump()
        faces += [f["face_id"] for f in page["faces"]]
        if (after := page["next"]) is None:
            break
    assert sorted(faces) == sorted(ids) and len(faces) == 7
    assert [f["subject"] for f in ops.faces("t1", "g", "b", 10, None).model_dump()["faces"]] == [
        "b",
        "b",
    ]


def test_delete_rename_merge_assign_drop(ops: GalleryOperations) -> None:
    ids = enroll(ops, unit_rows(5), ["a", "a", "b", None, None])
    assert ops.rename("t1", "g", "a", "b").model_dump() == {"renamed": 2, "merged": True}
    counts = {
        s["subject"]: s["faces"] for s in ops.subjects("t1", "g", 10, None).model_dump()["subjects"]
    }
    assert counts == {"b": 3}
    assert ops.assign("t1", "g", ids[3:], "c").model_dump() == {"assigned": 2}
    with pytest.raises(GalleryNotFoundError):
        ops.assign("t2", "g", ids[:1], "x").model_dump()
    # the erased ids go to the API service's video redaction (composition drops them)
    one = {"deleted": 1, "face_ids": [ids[0]]}
    assert ops.delete("t1", "g", ids[0], None).model_dump() == one
    assert ops.delete("t1", "g", ids[0], None).model_dump() == {"deleted": 0, "face_ids": []}
    gone = ops.delete("t1", "g", None, "c")
    assert gone.deleted == 2 and sorted(gone.face_ids) == sorted(ids[3:])
    assert ops.drop("t1", "g").model_dump() == {"dropped": "g", "deleted": 2}
    with pytest.raises(GalleryNotFoundError):
        ops.faces("t1", "g", None, 10, None).model_dump()


def test_face_ids_of_another_gallery_are_untouched(ops: GalleryOperations) -> None:
    theirs = enroll(ops, unit_rows(1), ["x"], gallery="other")
    enroll(ops, unit_rows(1, seed=1), ["y"])
    assert ops.delete("t1", "g", theirs[0], None).model_dump() == {"deleted": 0, "face_ids": []}
    assert ops.assign("t1", "g", theirs, "z").model_dump() == {"assigned": 0}
    assert ops.faces("t1", "other", None, 10, None).model_dump()["faces"][0]["subject"] == "x"


def test_cluster_groups_unnamed_faces_and_respects_images(ops: GalleryOperations) -> None:
    centres = unit_rows(3, seed=5)
    rng = np.random.default_rng(1)
    people = []
    for centre in centres:
        noisy = centre + rng.normal(scale=0.05, size=(4, 16)).astype(np.float32)
        people.append(noisy / np.linalg.norm(noisy, axis=1, keepdims=True))
    rows = np.concatenate(people)
    # faces 0 and 1 (same person) come from one image: they must not share a cluster
    sources = ["img-a", "img-a"] + [f"img-{i}" for i in range(2, 12)]
    ids = enroll(ops, rows, [None] * 12, sources=sources)
    enroll(ops, unit_rows(1, seed=9), ["named"])  # named faces are not clustered
    result = ops.cluster("t1", "g", min_faces=3, threshold=0.9).model_dump()
    groups = [frozenset(c["face_ids"]) for c in result["clusters"]]
    assert [c["size"] for c in result["clusters"]] == [4, 4, 3]
    assert frozenset(ids[4:8]) in groups and frozenset(ids[8:12]) in groups
    first = next(g for g in groups if g & set(ids[:4]))
    assert len(first & {ids[0], ids[1]}) == 1 and set(ids[2:4]) <= first
    assert result["unclustered"] == 1


def test_threshold_for_prefers_the_exact_model() -> None:
    table = {"dlib": 0.91, "insightface/buffalo_l/512": 0.5}
    assert threshold_for("dlib/resnet/128", table) == 0.91
    assert threshold_for("insightface/buffalo_l/512", table) == 0.5
    assert threshold_for("someone/else/512", table) == 0.45


def test_info_names_the_model_of_a_tenants_gallery_only(ops: GalleryOperations) -> None:
    """/video/submit's existence check: the tenant's own gallery, nobody else's."""
    enroll(ops, unit_rows(2), ["a", "b"])
    info = ops.info("t1", "g").model_dump()
    assert (info["gallery"], info["embedding_model"], int(info["dim"])) == ("g", MODEL, 16)
    with pytest.raises(GalleryNotFoundError):
        ops.info("t2", "g").model_dump()
    with pytest.raises(GalleryNotFoundError):
        ops.info("t1", "missing").model_dump()
