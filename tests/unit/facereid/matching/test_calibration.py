"""Operating points from genuine/impostor scores (issue 24): thresholds, rates, the 3/N floor,
deterministic bootstrap intervals, and the service's loader with its 422 for unknown points."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from facereid.errors import UnknownOperatingPointError
from facereid.matching import calibration
from facereid.matching import operating_points as op_points


def test_pair_scores_splits_same_and_different_people() -> None:
    people = {
        "a": [[1.0, 0.0], [2.0, 0.0], [1.0, 1.0]],  # 3 photos: 3 genuine pairs
        "b": [[0.0, 1.0]],
    }
    genuine, impostor = calibration.pair_scores(people)
    assert sorted(genuine.round(4)) == [0.7071, 0.7071, 1.0]
    assert sorted(impostor.round(4)) == [0.0, 0.0, 0.7071]


def test_threshold_lets_through_at_most_the_allowed_impostors() -> None:
    impostor = np.linspace(0.0, 0.99, 1000)  # 0.99 is the highest
    cut = calibration.threshold_at(impostor, 1e-2)  # 10 allowed
    assert int(np.sum(impostor >= cut)) == 10
    cut = calibration.threshold_at(impostor, 1e-4)  # 0 allowed: just above the highest
    assert cut > 0.99 and int(np.sum(impostor >= cut)) == 0
    assert cut == round(cut, 6)  # written as is: rounding must not let an impostor in
    assert calibration.threshold_at(impostor, 1.0) == -1.0


def test_operating_points_rates_floor_and_names() -> None:
    rng = np.random.default_rng(1)
    genuine = rng.normal(0.95, 0.02, 50)
    impostor = rng.normal(0.80, 0.04, 500)
    model = calibration.operating_points(genuine, impostor, seed=3, bootstrap=200)
    assert model["impostor_pairs"] == 500 and model["min_claimable_fmr"] == 0.006
    points = model["operating_points"]
    assert list(points) == ["fmr_1e-2", "fmr_1e-3", "fmr_1e-4"]
    assert points["fmr_1e-2"]["claimable"] and not points["fmr_1e-3"]["claimable"]
    for p in points.values():
        fmr, fnmr = calibration.rates(genuine, impostor, p["threshold"])
        assert p["fmr"] == round(fmr, 6) <= p["target_fmr"]
        assert p["fnmr"] == round(fnmr, 6)
        lo, hi = p["fnmr_ci95"]
        assert 0.0 <= lo <= hi <= 1.0
        assert p["threshold_ci95"][0] <= p["threshold_ci95"][1]
    assert points["fmr_1e-2"]["threshold"] < points["fmr_1e-3"]["threshold"]
    assert "3/500" in calibration.limits_note(model)
    assert "fmr_1e-3, fmr_1e-4 are extrapolations" in calibration.limits_note(model)


def test_bootstrap_is_deterministic_for_a_seed() -> None:
    rng = np.random.default_rng(2)
    genuine, impostor = rng.normal(0.9, 0.05, 40), rng.normal(0.7, 0.1, 300)
    first = calibration.operating_points(genuine, impostor, seed=7, bootstrap=100)
    again = calibration.operating_points(genuine, impostor, seed=7, bootstrap=100)
    other = calibration.operating_points(genuine, impostor, seed=8, bootstrap=100)
    assert first == again
    assert first != other


def test_calibration_needs_both_kinds_of_pair() -> None:
    with pytest.raises(ValueError):
        calibration.operating_points(np.zeros(0), np.ones(3))


def test_op_names() -> None:
    assert calibration.op_name(1e-3) == "fmr_1e-3"
    assert calibration.op_name(0.05) == "fmr_0.05"


def _points(tmp_path: Path) -> op_points.OperatingPoints:
    doc = {
        "models": {
            "dlib/resnet": {"operating_points": {"fmr_1e-2": {"threshold": 0.9}}},
            "insightface": {"operating_points": {"fmr_1e-3": {"threshold": 0.4}}},
        }
    }
    path = tmp_path / "points.json"
    path.write_text(json.dumps(doc))
    return op_points.OperatingPoints.load(path)


def test_resolve_exact_model_then_family(tmp_path: Path) -> None:
    points = _points(tmp_path)
    assert points.resolve("fmr_1e-2", "dlib/resnet").threshold == 0.9
    assert points.resolve("fmr_1e-3", "insightface/buffalo_l").threshold == 0.4


@pytest.mark.parametrize(
    ("name", "model", "said"),
    [
        ("fmr_1e-9", "dlib/resnet", "unknown operating_point fmr_1e-9"),
        ("fmr_1e-2", "other/model", "no operating points are calibrated for model other/model"),
        ("fmr_1e-2", None, "needs the embedding model"),
        (5, "dlib/resnet", "must be a name"),
    ],
)
def test_unknown_points_are_refused_with_a_stable_code(
    tmp_path: Path, name: object, model: str | None, said: str
) -> None:
    with pytest.raises(UnknownOperatingPointError, match=said) as caught:
        _points(tmp_path).resolve(name, model)
    assert caught.value.code == "unknown_operating_point" and caught.value.status == 422


def test_shipped_points_cover_dlib_with_their_sample_size() -> None:
    doc = json.loads(op_points.SHIPPED.read_text())
    (model_id,) = doc["models"]
    model = doc["models"][model_id]
    assert model_id.startswith("dlib/")
    assert set(model["operating_points"]) == {"fmr_1e-2", "fmr_1e-3", "fmr_1e-4"}
    assert str(model["impostor_pairs"]) in model["note"]
    points = op_points.load("")
    assert points.resolve("fmr_1e-2", model_id).threshold == pytest.approx(
        model["operating_points"]["fmr_1e-2"]["threshold"]
    )


def test_the_setting_names_the_file_the_service_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from facereid.config import Settings

    path = tmp_path / "mine.json"
    path.write_text(
        json.dumps({"models": {"x/y": {"operating_points": {"p": {"threshold": 0.3}}}}})
    )
    monkeypatch.setenv("MATCH_OPERATING_POINTS_FILE", str(path))
    chosen = Settings().match_operating_points_file
    assert op_points.load(chosen).resolve("p", "x/y").threshold == 0.3
    bad = tmp_path / "bad.json"
    bad.write_text('{"models": {"x": {}}}')
    with pytest.raises(ValueError, match="no 'operating_points'"):
        op_points.OperatingPoints.load(bad)
