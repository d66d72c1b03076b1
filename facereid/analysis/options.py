"""What a caller asks of one analysis: all faces or the primary one, emotions, and which
labels (checked before any model work)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class AnalyzeOptions:
    return_all_faces: bool = False
    include_emotions: bool = True
    emotion_labels: list[str] | None = None  # raw; ``checked()`` validates and cleans them
    include_attributes: bool = False  # age, gender, pose per face (issue 24)

    def checked(self) -> AnalyzeOptions:
        """These options with the labels validated (``InvalidLabelsError`` otherwise)."""
        labels = checked_labels(self.emotion_labels)
        return AnalyzeOptions(
            self.return_all_faces, self.include_emotions, labels, self.include_attributes
        )


def checked_labels(labels: Sequence[str] | None) -> list[str] | None:
    """Per-request emotion labels, validated before any model work (a bad label list
    answers 422 without decoding the image)."""
    from facereid.emotion.crops import validate_labels  # torch-free

    return None if labels is None else list(validate_labels(list(labels)))
