"""EMOTION_ENGINE: auto picks CLIP only when the store has it; an explicit choice wins."""

from __future__ import annotations

import pytest

from facereid.config import Settings
from facereid.emotion.engine import choose_engine


@pytest.mark.parametrize(
    ("setting", "clip_stored", "engine"),
    [
        ("auto", True, "clip"),
        ("auto", False, "fer"),
        ("clip", False, "clip"),  # reported unavailable, never silently fer
        ("fer", True, "fer"),
    ],
)
def test_choose_engine(setting: str, clip_stored: bool, engine: str) -> None:
    assert choose_engine(setting, clip_stored) == engine


def test_setting_defaults_to_auto_and_refuses_other_engines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().emotion_engine == "auto"
    monkeypatch.setenv("EMOTION_ENGINE", "deepface")
    with pytest.raises(ValueError, match="emotion_engine"):
        Settings()
