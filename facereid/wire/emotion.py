"""The CLIP service's health answer, typed (``EmotionModel.health``; ``/health`` shows it as
``clip_model``)."""

from __future__ import annotations

from pydantic import BaseModel


class ClipStatus(BaseModel):
    available: bool
    reason: str | None = None  # why not, when not
    model: str | None = None  # the store tag
    source: str | None = None  # "pulled", "imported" or "synthetic"
    synthetic: bool = False
    labels: list[str] = []  # the default emotion labels
