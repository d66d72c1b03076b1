"""Operating points from labelled faces: what a threshold means as error rates (issue 24).

From embeddings grouped by person, every same-person pair is a *genuine* score and every
different-person pair an *impostor* score (cosine similarity). For a target false-match rate
(FMR) the threshold is the lowest one that lets at most ``floor(target * N)`` of the N impostor
pairs through; its false non-match rate (FNMR) is the share of genuine pairs below it.

What N impostor pairs can show is bounded: with zero false matches observed, the one-sided 95%
upper bound on the true FMR is about ``3 / N`` (the "rule of three"), so a target below that is
reported with ``claimable: false``. The 95% intervals come from a percentile bootstrap over the
pairs with a fixed seed (deterministic). Pairs that share a photo are not independent, so the
intervals are narrower than the truth; the sample sizes are written beside them for that reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

FORMAT = "facereid-operating-points/1"
DEFAULT_TARGETS = (1e-2, 1e-3, 1e-4)
FloatArray = npt.NDArray[np.float64]


def op_name(target: float) -> str:
    """``1e-3`` -> ``"fmr_1e-3"`` (the name requests use)."""
    exponent = round(math.log10(target))
    if math.isclose(10.0**exponent, target):
        return f"fmr_1e{exponent}"
    return f"fmr_{target:g}"


def pair_scores(people: Mapping[str, Sequence[npt.ArrayLike]]) -> tuple[FloatArray, FloatArray]:
    """(genuine, impostor) cosine similarities of every same-person and different-person pair."""
    names, rows = [], []
    for name, vectors in people.items():
        for vec in vectors:
            names.append(name)
            rows.append(np.asarray(vec, dtype=np.float64))
    if not rows:
        return np.zeros(0), np.zeros(0)
    unit = np.stack(rows)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    sims = np.clip(unit @ unit.T, -1.0, 1.0)
    labels = np.array(names)
    i, j = np.triu_indices(len(rows), k=1)
    same = labels[i] == labels[j]
    return sims[i, j][same], sims[i, j][~same]


def threshold_at(impostor: FloatArray, target: float) -> float:
    """The lowest threshold (``similarity >= threshold`` is a match) at which at most
    ``floor(target * N)`` impostor scores match."""
    allowed = math.floor(target * impostor.size + 1e-9)
    if allowed >= impostor.size:
        return -1.0
    highest_first = np.sort(impostor)[::-1]
    blocked = float(highest_first[allowed])  # the first impostor that must not match
    # rounded up to 6 decimals (the file's precision) and strictly above ``blocked``
    cut = math.ceil(blocked * 1e6) / 1e6
    return round(cut + 1e-6, 6) if cut <= blocked else cut


def rates(genuine: FloatArray, impostor: FloatArray, threshold: float) -> tuple[float, float]:
    """(FMR, FNMR) at a threshold."""
    fmr = float(np.mean(impostor >= threshold)) if impostor.size else math.nan
    fnmr = float(np.mean(genuine < threshold)) if genuine.size else math.nan
    return fmr, fnmr


def operating_points(
    genuine: FloatArray,
    impostor: FloatArray,
    *,
    targets: Sequence[float] = DEFAULT_TARGETS,
    seed: int = 0,
    bootstrap: int = 1000,
) -> dict[str, Any]:
    """One model's calibration: sample sizes, the FMR floor they allow, and per target the
    threshold, measured FMR/FNMR and bootstrap 95% intervals of threshold and FNMR."""
    if genuine.size == 0 or impostor.size == 0:
        raise ValueError("calibration needs at least one same-person and one different pair")
    floor = min(1.0, 3.0 / impostor.size)
    rng = np.random.default_rng(seed)
    draws = [
        (
            rng.choice(genuine, genuine.size, replace=True),
            rng.choice(impostor, impostor.size, replace=True),
        )
        for _ in range(bootstrap)
    ]
    points: dict[str, Any] = {}
    for target in targets:
        cut = threshold_at(impostor, target)
        fmr, fnmr = rates(genuine, impostor, cut)
        cuts, misses = [], []
        for g, imp in draws:
            t = threshold_at(imp, target)
            cuts.append(t)
            misses.append(rates(g, imp, t)[1])
        points[op_name(target)] = {
            "target_fmr": target,
            "threshold": cut,
            "fmr": round(fmr, 6),
            "fnmr": round(fnmr, 6),
            "threshold_ci95": _interval(cuts),
            "fnmr_ci95": _interval(misses),
            "claimable": target >= floor,
        }
    return {
        "genuine_pairs": int(genuine.size),
        "impostor_pairs": int(impostor.size),
        "min_claimable_fmr": round(floor, 6),
        "genuine": _summary(genuine),
        "impostor": _summary(impostor),
        "seed": seed,
        "bootstrap": bootstrap,
        "operating_points": points,
    }


def limits_note(model: Mapping[str, Any]) -> str:
    """The plain sentence about what this sample can and cannot claim."""
    n = model["impostor_pairs"]
    floor = model["min_claimable_fmr"]
    weak = [name for name, p in model["operating_points"].items() if not p["claimable"]]
    note = (
        f"{model['genuine_pairs']} same-person and {n} different-person pairs: an FMR below "
        f"about 3/{n} = {floor:.2g} cannot be claimed from this sample (95%, rule of three)"
    )
    if weak:
        note += f"; {', '.join(weak)} are extrapolations, not measurements"
    return note


def roc_points(genuine: FloatArray, impostor: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(FMR, 1 - FNMR) at every observed score, for the ROC plot."""
    cuts = np.unique(np.concatenate([genuine, impostor]))[::-1]
    fmr = np.array([np.mean(impostor >= c) for c in cuts])
    tmr = np.array([np.mean(genuine >= c) for c in cuts])
    return fmr, tmr


def _interval(values: Sequence[float]) -> list[float]:
    lo, hi = np.percentile(np.asarray(values), [2.5, 97.5])
    return [round(float(lo), 6), round(float(hi), 6)]


def _summary(scores: FloatArray) -> dict[str, float]:
    return {
        "min": round(float(scores.min()), 6),
        "mean": round(float(scores.mean()), 6),
        "max": round(float(scores.max()), 6),
    }
