"""The engine interface every face engine implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from facereid.faces.attributes import FaceAttributes
from facereid.faces.records import BGRImage, DetectedFace, FloatArray, ModelInfo


class FaceEngine(Protocol):
    """Detects faces and embeds them. Images are BGR uint8 arrays (OpenCV order)."""

    @property
    def model_info(self) -> ModelInfo: ...

    def detect(self, images: Sequence[BGRImage]) -> list[list[DetectedFace]]:
        """Faces per image, largest first (``facereid.faces.ordering``); faces under the
        minimum size dropped."""
        ...

    def embed(self, images: Sequence[BGRImage], faces: Sequence[DetectedFace]) -> FloatArray:
        """One L2-normalised row per (image, face) pair, in one batched model call."""
        ...

    def attributes(
        self, images: Sequence[BGRImage], faces: Sequence[DetectedFace]
    ) -> list[FaceAttributes]:
        """Age, gender and pose per (image, face) pair, each model called once for all;
        what an engine cannot compute is null with the reason said."""
        ...
