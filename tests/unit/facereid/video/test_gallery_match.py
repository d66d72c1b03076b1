"""Identities named from a gallery at the end of a job (``/video/submit``'s ``gallery``): the
production ``VideoJobRunner`` with a fake lookup at the gallery store boundary, and the store
lookup over a ``GalleryClient``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
import pytest

from facereid.errors import EmbeddingModelMismatchError
from facereid.gallery.errors import GalleryNotFoundError
from facereid.gallery.operations import GalleryOperations
from facereid.gallery.schemas import GalleryMatch
from facereid.gallery.store import GalleryStore
from facereid.video.gallery_match import GalleryMatches, store_check, store_lookup
from facereid.video.store import COMPLETED, JobRecord
from facereid.wire.clients import GalleryClient
from facereid.wire.gallery import Searched
from tests.unit.facereid.gallery.fakes import InProcessGallery
from tests.unit.facereid.video.fakes import FakeModels, run_job
from tests.video_builder import flat_frames, write_video

T = TypeVar("T")


async def _wait(awaitable: Awaitable[T]) -> T:
    return await awaitable


DIM = 128


def unit(axis: int) -> np.ndarray:
    vector = np.zeros(DIM, np.float32)
    vector[axis] = 1.0
    return vector


def two_people(image: np.ndarray) -> list[dict[str, Any]]:
    """Two faces in every frame, far apart: two identities, never merged."""
    return [
        {"bbox": [5.0, 5.0, 25.0, 25.0], "score": 0.9, "embedding": unit(0)},
        {"bbox": [40.0, 5.0, 60.0, 25.0], "score": 0.9, "embedding": unit(1)},
    ]


class FakeGallery:
    """A one-face gallery ("lin" along axis 0) searched by exact cosine, top 1."""

    def __init__(self, error: Exception | None = None, threshold: float = 0.9) -> None:
        self.error = error
        self.threshold = threshold
        self.calls: list[tuple[str, str, str, np.ndarray]] = []

    async def lookup(self, tenant: str, gallery: str, model: str, rows: np.ndarray) -> Any:
        self.calls.append((tenant, gallery, model, rows))
        if self.error is not None:
            raise self.error
        similarities = rows @ unit(0)
        matches = [
            GalleryMatch(face_id="f-lin", subject="lin", similarity=float(s))
            if s >= self.threshold
            else None
            for s in similarities
        ]
        return GalleryMatches(matches, self.threshold)


def video(tmp_path: Path) -> Path:
    return write_video(tmp_path / "a.mp4", flat_frames(20))


def by_subject(result: dict[str, Any]) -> dict[str | None, dict[str, Any]]:
    return {i["subject"]: i for i in result["identities"]}


def test_identities_carry_the_gallery_subject_they_match(tmp_path: Path) -> None:
    gallery = FakeGallery()
    job = run_job(
        video(tmp_path),
        FakeModels(two_people, gallery_lookup=gallery.lookup),
        gallery="cast",
        tenant="acme",
    )
    assert job.status == COMPLETED, job.error
    assert job.record.gallery == "cast"
    result = job.result
    assert result is not None and result["num_identities"] == 2
    assert len(gallery.calls) == 1  # every identity in one lookup
    tenant, name, model, rows = gallery.calls[0]
    assert (tenant, name, model) == ("acme", "cast", "dlib/fake/128")
    assert rows.shape == (2, DIM) and np.allclose(np.linalg.norm(rows, axis=1), 1.0)
    named = by_subject(result)
    assert set(named) == {"lin", None}
    assert named["lin"]["similarity"] == pytest.approx(1.0)
    assert named["lin"]["gallery_face_id"] == "f-lin"
    assert named["lin"]["embedding"][0] == pytest.approx(1.0)  # the axis-0 person
    assert named[None]["similarity"] is None and named[None]["gallery_face_id"] is None
    assert result["gallery"] == "cast" and result["gallery_threshold"] == 0.9
    assert "gallery_error" not in result


def test_no_identity_matches_above_the_threshold(tmp_path: Path) -> None:
    gallery = FakeGallery(threshold=1.5)  # nothing can reach it
    job = run_job(
        video(tmp_path), FakeModels(two_people, gallery_lookup=gallery.lookup), gallery="cast"
    )
    assert job.result is not None
    assert [i["subject"] for i in job.result["identities"]] == [None, None]
    assert [i["similarity"] for i in job.result["identities"]] == [None, None]


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (
            EmbeddingModelMismatchError("gallery 'cast' holds insightface embeddings"),
            "embedding_model_mismatch",
        ),
        (GalleryNotFoundError("no gallery named 'cast'"), "gallery_not_found"),
    ],
)
def test_a_gallery_error_leaves_the_job_completed_with_gallery_error(
    tmp_path: Path, error: Exception, code: str
) -> None:
    gallery = FakeGallery(error=error)
    job = run_job(
        video(tmp_path), FakeModels(two_people, gallery_lookup=gallery.lookup), gallery="cast"
    )
    assert job.status == COMPLETED, job.error
    assert job.result is not None and job.result["num_identities"] == 2
    assert job.result["gallery_error"]["code"] == code
    assert job.result["gallery_threshold"] is None
    assert all(i["subject"] is None for i in job.result["identities"])


def test_a_server_without_a_gallery_store_says_so(tmp_path: Path) -> None:
    job = run_job(video(tmp_path), FakeModels(two_people), gallery="cast")
    assert job.status == COMPLETED
    assert job.result is not None and job.result["gallery_error"]["code"] == "gallery_unavailable"


def test_without_a_gallery_identities_have_no_subject_and_nothing_is_looked_up(
    tmp_path: Path,
) -> None:
    gallery = FakeGallery()
    job = run_job(video(tmp_path), FakeModels(two_people, gallery_lookup=gallery.lookup))
    assert job.result is not None and gallery.calls == []
    assert "gallery" not in job.result
    assert all("subject" not in i for i in job.result["identities"])


def test_records_stored_before_the_gallery_field_still_load() -> None:
    record = JobRecord("j", "t", "/up", 2.0, False)
    old = record.to_json().replace(',"gallery":null', "")
    assert "gallery" not in old
    assert JobRecord.from_json(old).gallery is None


# -- the store lookup over a GalleryClient ------------------------------------------------


class Searches:
    """The part of ``GalleryClient`` a lookup uses; row k is named after its first value,
    even rows match, odd rows do not."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str, np.ndarray, int, float | None]] = []

    async def search(
        self,
        tenant: str,
        gallery: str,
        model: str,
        vectors: np.ndarray,
        top_k: int,
        threshold: float | None,
    ) -> Searched:
        self.sent.append((tenant, gallery, model, vectors, top_k, threshold))
        results = [
            [GalleryMatch(face_id=f"f{int(r[0])}", subject=f"s{int(r[0])}", similarity=0.95)]
            if int(r[0]) % 2 == 0
            else []
            for r in vectors
        ]
        return Searched(results=results, threshold=0.91)


def test_store_lookup_sends_rows_in_chunks_and_keeps_their_order() -> None:
    store = Searches()
    rows = np.zeros((300, 4), np.float32)
    rows[:, 0] = np.arange(300)
    lookup = store_lookup(cast(GalleryClient, store))
    found: GalleryMatches = asyncio.run(_wait(lookup("t", "cast", "dlib/x", rows)))
    assert [len(sent[3]) for sent in store.sent] == [256, 44]
    assert all(s[4] == 1 and s[5] is None for s in store.sent)  # top 1, the gallery's cut
    assert store.sent[0][:3] == ("t", "cast", "dlib/x")
    assert len(found.matches) == 300 and found.threshold == 0.91
    assert found.matches[298] is not None and found.matches[298].subject == "s298"
    assert found.matches[299] is None


def test_store_errors_come_back_with_their_codes(tmp_path: Path) -> None:
    store = GalleryStore(str(tmp_path / "g"), dim=16)
    try:
        check = store_check(InProcessGallery(GalleryOperations(store, {})))
        with pytest.raises(GalleryNotFoundError) as raised:
            asyncio.run(_wait(check("t", "nope")))
    finally:
        store.close()
    assert (raised.value.code, raised.value.status) == ("gallery_not_found", 404)
