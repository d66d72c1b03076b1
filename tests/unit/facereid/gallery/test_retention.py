"""A gallery's own retention (``POST /gallery/retention``): set on its Chroma collection,
kept through Chroma's whole-dict ``modify`` and an erasure, honoured by ``expire``.
Real embedded Chroma in tmp_path; the sweep is called with chosen clocks, never waited for."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from facereid.gallery.errors import GalleryNotFoundError
from facereid.gallery.operations import GalleryOperations
from facereid.gallery.store import GalleryStore

MODEL = "test/retention/8"
DAY_MS = 86_400_000
DEFAULT_DAYS = 30.0


@pytest.fixture
def ops(tmp_path: Path) -> Iterator[GalleryOperations]:
    store = GalleryStore(str(tmp_path / "gallery.chroma"), dim=8)
    yield GalleryOperations(store, {}, retention_days=DEFAULT_DAYS)
    store.close()


def enroll(ops: GalleryOperations, n: int, tenant: str = "t1", gallery: str = "g") -> list[str]:
    rows = np.eye(8, dtype=np.float32)[:n]
    answer = ops.enroll(tenant, gallery, MODEL, rows, ["s"] * n, [{}] * n, [""] * n)
    return list(answer.face_ids)


def now_ms() -> int:
    return int(time.time() * 1000)


def test_setting_keeps_the_other_metadata_and_null_removes_the_key(
    ops: GalleryOperations,
) -> None:
    enroll(ops, 2)
    collection = ops.store._collection("t1", "g")
    before = dict(collection.metadata or {})
    answer = ops.retention("t1", "g", 0.5)
    assert answer.model_dump() == {"gallery": "g", "retention_days": 0.5, "effective_days": 0.5}
    after = dict(ops.store._collection("t1", "g").metadata or {})
    assert after == {**before, "retention_days": 0.5}  # tenant, model, dim, created_at kept
    listed = ops.list("t1").galleries
    assert [(g.gallery, g.retention_days, g.faces) for g in listed] == [("g", 0.5, 2)]

    cleared = ops.retention("t1", "g", None)
    assert cleared.retention_days is None and cleared.effective_days == DEFAULT_DAYS
    assert dict(ops.store._collection("t1", "g").metadata or {}) == before
    assert ops.list("t1").galleries[0].retention_days == DEFAULT_DAYS
    # the gallery still works as it did: its model is still bound
    assert ops.search("t1", "g", MODEL, np.eye(8, dtype=np.float32)[:1], 1, 0.5).results[0]


def test_expire_honours_the_gallerys_own_retention_over_the_default(
    ops: GalleryOperations,
) -> None:
    enroll(ops, 3, gallery="short")
    enroll(ops, 2, gallery="plain")
    enroll(ops, 1, gallery="forever")
    ops.retention("t1", "short", 1.0)
    ops.retention("t1", "forever", 0)
    store = ops.store
    # two days on: only the one-day gallery is past its retention
    assert store.expire(now_ms() + 2 * DAY_MS, DEFAULT_DAYS) == 3
    assert [store.count("t1", g) for g in ("short", "plain", "forever")] == [0, 2, 1]
    # past the default: the plain gallery goes, the kept-forever one stays
    assert store.expire(now_ms() + 100 * DAY_MS, DEFAULT_DAYS) == 2
    assert [store.count("t1", g) for g in ("plain", "forever")] == [0, 1]
    # null again: the default applies to it as well
    ops.retention("t1", "forever", None)
    assert store.expire(now_ms() + 100 * DAY_MS, DEFAULT_DAYS) == 1


def test_retention_survives_an_erasure(ops: GalleryOperations) -> None:
    """A delete scrubs the folder with Chroma's client closed and reopened (or rebuilds the
    collection, facereid/gallery/erasure.py): the gallery must keep its own retention, or a
    deletion would silently restore the default."""
    ids = enroll(ops, 3)
    ops.retention("t1", "g", 0.25)
    assert ops.delete("t1", "g", ids[0], None).deleted == 1
    assert ops.list("t1").galleries[0].retention_days == 0.25
    assert ops.store.expire(now_ms() + DAY_MS, DEFAULT_DAYS) == 2


def test_unknown_or_another_tenants_gallery_is_not_found(ops: GalleryOperations) -> None:
    enroll(ops, 1, tenant="t2", gallery="theirs")
    for tenant, gallery in (("t1", "theirs"), ("t1", "nothing")):
        with pytest.raises(GalleryNotFoundError):
            ops.retention(tenant, gallery, 1.0)
    assert "retention_days" not in (ops.store._collection("t2", "theirs").metadata or {})
