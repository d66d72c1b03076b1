"""Typed results shared by the engines, the emotion scorer and the services."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class ModelInfo:
    """Which model made a result. Embeddings from different ``embedding_id`` values are
    not comparable, so every embedding carries this."""

    engine: str  # "insightface" or "dlib"
    name: str  # e.g. "buffalo_l" or "dlib_face_recognition_resnet_model_v1"
    source: str  # "pulled", "imported", "synthetic" or "package"
    embedding_dim: int
    tag: str | None = None  # BentoML model tag, when the model came from the store

    @property
    def synthetic(self) -> bool:
        return self.source == "synthetic"

    @property
    def embedding_id(self) -> str:
        """Stable identifier of the embedding space (engine, pack and dimension)."""
        return f"{self.engine}/{self.name}/{self.embedding_dim}"


@dataclass
class DetectedFace:
    """One detection in original-image pixel coordinates."""

    bbox: FloatArray  # x1, y1, x2, y2
    score: float
    kps: FloatArray | None  # 5 x 2: left eye, right eye, nose, left mouth, right mouth
    landmarks_106: FloatArray | None = None

    @property
    def width(self) -> float:
        return float(self.bbox[2] - self.bbox[0])

    @property
    def height(self) -> float:
        return float(self.bbox[3] - self.bbox[1])

    def bbox_xywh(self) -> list[float]:
        x1, y1, x2, y2 = (float(v) for v in self.bbox)
        return [x1, y1, x2 - x1, y2 - y1]


@dataclass
class AnalyzedFace:
    """A detected face with its identity embedding (L2-normalised float32)."""

    detection: DetectedFace
    embedding: FloatArray
    model: ModelInfo
    emotions: dict[str, float] | None = None
    extras: dict[str, object] = field(default_factory=dict)
