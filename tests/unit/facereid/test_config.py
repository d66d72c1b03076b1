"""Every numeric setting is bounded: a value out of range or of the wrong type stops the
service at start (a pydantic ValidationError) instead of running with it."""

from __future__ import annotations

import types
import typing

import pytest
from annotated_types import Ge, Gt, Le, Lt, MultipleOf
from pydantic import ValidationError

from facereid.config import Settings

NUMBERS = (int, float)


def _numeric(annotation: object) -> bool:
    if annotation in NUMBERS:
        return True
    args = typing.get_args(annotation)  # int | None
    return isinstance(annotation, types.UnionType) and any(a in NUMBERS for a in args)


NUMERIC = sorted(name for name, f in Settings.model_fields.items() if _numeric(f.annotation))


def _bounds(name: str) -> tuple[float, float]:
    low: object = None
    high: object = None
    for item in Settings.model_fields[name].metadata:
        if isinstance(item, Ge | Gt):
            low = item.ge if isinstance(item, Ge) else item.gt
        if isinstance(item, Le | Lt):
            high = item.le if isinstance(item, Le) else item.lt
    assert isinstance(low, int | float) and isinstance(high, int | float), f"{name}: no range"
    return float(low), float(high)


def test_the_numeric_settings_are_found() -> None:
    assert {"max_request_bytes", "gallery_hnsw_m", "video_identity_threshold"} <= set(NUMERIC)
    assert len(NUMERIC) > 50


@pytest.mark.parametrize("name", NUMERIC)
def test_every_numeric_setting_has_a_range_its_default_is_in(name: str) -> None:
    low, high = _bounds(name)
    default = Settings.model_fields[name].default
    assert default is None or low <= default <= high


@pytest.mark.parametrize("name", NUMERIC)
def test_out_of_range_and_mistyped_values_are_refused(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    low, high = _bounds(name)
    values = [str(low - 1), str(high * 2 + 1), "many", "1e400", "nan", ""]
    if Settings.model_fields[name].annotation is int:
        values.append(str(low + 0.5))  # a fraction where a count is meant
    for value in values:
        monkeypatch.setenv(name.upper(), value)
        with pytest.raises(ValidationError):
            Settings()


def test_in_range_values_from_the_environment_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GALLERY_HNSW_M", "32")
    monkeypatch.setenv("VIDEO_IDENTITY_THRESHOLD", "-0.5")
    monkeypatch.setenv("DET_SIZE", "320")
    settings = Settings()
    assert (settings.gallery_hnsw_m, settings.video_identity_threshold) == (32, -0.5)
    assert settings.det_size == 320


def test_detector_size_must_be_a_multiple_of_the_largest_stride(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert any(isinstance(m, MultipleOf) for m in Settings.model_fields["det_size"].metadata)
    monkeypatch.setenv("DET_SIZE", "650")
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GALLERY_THRESHOLDS", '{"dlib": 1.5}'),
        ("GALLERY_THRESHOLDS", '{"dlib": "high"}'),
        ("ROUTE_MAX_BYTES", '{"/analyze": 0}'),
        ("ROUTE_MAX_BYTES", '{"/analyze": -5}'),
    ],
)
def test_values_inside_json_settings_are_bounded_too(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()
