"""Fakes of the typed clients (``facereid.wire.clients``) for the /analyze tests: real image
bytes for the real intake, faces and crops from a list, emotions on request."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from facereid.faces.records import FaceRecord
from facereid.intake.budget import ImageHeader
from facereid.wire.emotion import ClipStatus
from facereid.wire.faces import Crop, Emotions, FaceModelInfo, FacesAnswer

MODEL = FaceModelInfo(
    engine="insightface",
    name="test",
    source="synthetic",
    synthetic=True,
    embedding_dim=4,
    embedding_model="insightface/test/4",
)


def png(value: int, width: int = 300, height: int = 200) -> str:
    ok, data = cv2.imencode(".png", np.full((height, width, 3), value, np.uint8))
    assert ok
    return base64.b64encode(data.tobytes()).decode()


IMG, EMPTY, OTHER = png(0), png(1), png(2)  # EMPTY: the fake finds no face in it
CORRUPT = base64.b64encode(b"not an image at all, just bytes").decode()


def face(x1: float, y1: float, x2: float, y2: float, score: float = 0.9) -> FaceRecord:
    vector = np.array([x1, y1, x2, y2], np.float32)
    return FaceRecord(
        bbox=(x1, y1, x2, y2),
        score=score,
        embedding=vector / np.linalg.norm(vector),
        kps=np.array([[x1 + 1.0, y1 + 1.0]] * 5),
    )


class FakeFaces:
    """A ``FaceClient`` that finds ``faces`` (none in ``EMPTY``); crop ``i`` is filled with
    ``i``, so the emotion fake can tell which faces it was asked about."""

    def __init__(self, faces: Sequence[FaceRecord]) -> None:
        self.faces = list(faces)
        self.seen: list[tuple[bytes, int]] = []
        self.margins: list[float | None] = []  # the crop margin each call asked for

    async def model_info(self) -> FaceModelInfo:
        return MODEL

    async def analyze_encoded(
        self,
        header: ImageHeader,
        crops: int,
        attributes: bool = False,
        crop_margin: float | None = None,
    ) -> FacesAnswer:
        self.seen.append((header.raw, crops))
        self.margins.append(crop_margin)
        if header.raw == base64.b64decode(EMPTY):
            return FacesAnswer([], [])
        wanted = min(crops, len(self.faces))
        return FacesAnswer(
            list(self.faces), [np.full((2, 2, 3), i, np.uint8) for i in range(wanted)]
        )

    async def detect_embed(self, image: np.ndarray) -> list[FaceRecord]:
        raise AssertionError("/analyze sends encoded images, never decoded ones")


class FakeEmotions:
    """An ``EmotionClient``; "degraded" (CLIP failing) and "down" (CLIP away) answer None, as
    the real client does."""

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.calls: list[tuple[list[int], list[str] | None]] = []  # crop fills, labels
        self.engine_status = ClipStatus(available=True, model="facereid-clip:test", engine="clip")

    def available(self) -> bool:
        return self.mode != "down"

    def status(self) -> ClipStatus | None:
        """``engine_status`` while up (a test sets it to play fer), None while down."""
        return None if self.mode == "down" else self.engine_status

    async def score_crops(self, crops: list[Crop], labels: list[str] | None) -> list[Emotions]:
        self.calls.append(([-1 if c is None else int(c[0, 0, 0]) for c in crops], labels))
        if self.mode in ("degraded", "down"):
            return [None] * len(crops)
        names = labels or ["happy", "sad"]
        return [{name: 1.0 / len(names) for name in names} for _ in crops]


def model_info(
    engine: str, name: str, dim: int, source: str = "synthetic", **extra: Any
) -> FaceModelInfo:
    """A ``FaceModelInfo`` with its embedding space named as the face service names it."""
    return FaceModelInfo(
        engine=engine,
        name=name,
        source=source,
        synthetic=source == "synthetic",
        embedding_dim=dim,
        embedding_model=f"{engine}/{name}/{dim}",
        **extra,
    )
