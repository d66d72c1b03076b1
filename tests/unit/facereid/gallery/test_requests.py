from __future__ import annotations

import pytest

from facereid.errors import EmbeddingError
from facereid.gallery import requests as check
from facereid.gallery.errors import (
    InvalidGalleryRequestError,
    MetadataTooLargeError,
)


@pytest.mark.parametrize("name", ["", "-x", "a/b", "a b", "x" * 65, 3, None, "ü"])
def test_bad_gallery_names(name: object) -> None:
    with pytest.raises(InvalidGalleryRequestError):
        check.gallery_name(name)


def test_good_gallery_name() -> None:
    assert check.gallery_name("staff-2024_v1.0") == "staff-2024_v1.0"


@pytest.mark.parametrize("subject", ["", "  ", "a\nb", "x" * 257, 5])
def test_bad_subjects(subject: object) -> None:
    with pytest.raises(InvalidGalleryRequestError):
        check.subject_name(subject)


def test_subject_may_be_null_only_where_allowed() -> None:
    assert check.subject_name(None) is None
    assert check.subject_name('O\'Brien "Bob"') == 'O\'Brien "Bob"'
    with pytest.raises(InvalidGalleryRequestError):
        check.subject_name(None, nullable=False)


def test_metadata_must_be_flat_and_bounded() -> None:
    assert check.flat_metadata({"camera": "door", "n": 3, "ok": True, "x": None}, 100)
    with pytest.raises(InvalidGalleryRequestError):
        check.flat_metadata({"nested": {"a": 1}}, 1000)
    with pytest.raises(InvalidGalleryRequestError):
        check.flat_metadata(["a"], 1000)
    with pytest.raises(MetadataTooLargeError):
        check.flat_metadata({"k": "x" * 200}, 100)
    with pytest.raises(MetadataTooLargeError):
        check.flat_metadata({f"k{i}": i for i in range(40)}, 10_000)


def test_many_embeddings_normalises_and_rejects_bad_rows() -> None:
    rows = check.many_embeddings([[3.0, 4.0], [0.0, 2.0]], None, None, 10)
    assert rows.ravel().tolist() == pytest.approx([0.6, 0.8, 0.0, 1.0])
    with pytest.raises(EmbeddingError):
        check.many_embeddings([[1.0, 0.0], [0.0, 0.0]], None, None, 10)
    with pytest.raises(InvalidGalleryRequestError):
        check.many_embeddings([[1.0]] * 11, None, None, 10)
    with pytest.raises(InvalidGalleryRequestError):
        check.many_embeddings([], None, None, 10)
