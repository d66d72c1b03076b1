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


@pytest.mark.parametrize("value", [-0.01, 1.01, float("nan"), float("inf"), True, "0.5", [0.5]])
def test_bad_min_quality(value: object) -> None:
    with pytest.raises(InvalidGalleryRequestError, match="min_quality"):
        check.min_quality_value(value, 0.4)


def test_min_quality_defaults_to_the_setting() -> None:
    assert check.min_quality_value(None, 0.4) == 0.4
    assert check.min_quality_value(0, 0.4) == 0.0
    assert check.min_quality_value(0.75, 0.4) == 0.75


def test_the_gate_names_every_failing_component_with_its_value() -> None:
    from facereid.faces.quality import FaceQuality, QualityComponents
    from facereid.gallery.composition import _gate
    from facereid.gallery.errors import FaceQualityTooLowError

    parts = QualityComponents(detector=0.95, size=0.3, sharpness=0.45, pose=0.9)
    quality = FaceQuality(score=0.3, components=parts)
    _gate(quality, 0.3)  # at the bar: passes
    with pytest.raises(FaceQualityTooLowError) as refused:
        _gate(quality, 0.5)
    assert refused.value.status == 422 and refused.value.code == "face_quality_too_low"
    assert refused.value.message.endswith(": size 0.30, sharpness 0.45")
