"""Named operating points the service loads (``MATCH_OPERATING_POINTS_FILE``, issue 24).

The file is what ``python -m facereid calibrate`` writes (facereid/matching/calibration.py);
by default the service loads the dlib points shipped beside this module, measured on 20 photos
of 6 people (a small sample: see its ``note``). A request names a point (``"fmr_1e-3"``) and the
embedding model it scores; the threshold is looked up for the exact model id, then its family
(``dlib``, ``insightface``), so an uncalibrated model or an unknown name is a 422
``unknown_operating_point`` rather than a guess.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from facereid.errors import UnknownOperatingPointError, echo

SHIPPED = Path(__file__).with_name("operating_points.json")


@dataclass(frozen=True)
class Verdict:
    threshold: float
    operating_point: str
    model: str


class OperatingPoints:
    def __init__(self, document: dict[str, Any]) -> None:
        models = document.get("models")
        if not isinstance(models, dict):
            raise ValueError("an operating points file needs a 'models' object")
        self.models: dict[str, dict[str, float]] = {}
        for model, entry in models.items():
            points = entry.get("operating_points") if isinstance(entry, dict) else None
            if not isinstance(points, dict):
                raise ValueError(f"model {model!r} has no 'operating_points' object")
            self.models[model] = {name: float(p["threshold"]) for name, p in points.items()}

    @classmethod
    def load(cls, path: str | Path) -> OperatingPoints:
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    def resolve(self, name: object, model: str | None) -> Verdict:
        if not isinstance(name, str):
            raise UnknownOperatingPointError("operating_point must be a name such as 'fmr_1e-3'")
        if model is None:
            raise UnknownOperatingPointError(
                "operating_point needs the embedding model (the *_model field /analyze returned)"
            )
        key = model if model in self.models else model.split("/", 1)[0]
        points = self.models.get(key)
        if points is None:
            known = ", ".join(sorted(self.models)) or "none"
            raise UnknownOperatingPointError(
                f"no operating points are calibrated for model {echo(model)} (calibrated: {known})"
            )
        if name not in points:
            raise UnknownOperatingPointError(
                f"unknown operating_point {echo(name)} for {echo(key)}; "
                f"known: {', '.join(sorted(points))}"
            )
        return Verdict(points[name], name, key)


@lru_cache(maxsize=4)
def load(path: str) -> OperatingPoints:
    """The service's points: ``path`` or, when empty, the shipped file."""
    return OperatingPoints.load(path or SHIPPED)
