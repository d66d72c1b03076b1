"""Typed results shared by the engines, the emotion scorer and the services."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from facereid.faces.attributes import FaceAttributes

if TYPE_CHECKING:
    from facereid.faces.quality import FaceQuality

FloatArray = npt.NDArray[np.float32]
BGRImage = npt.NDArray[np.uint8]  # H x W x 3, OpenCV channel order
Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels


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


def xyxy_to_xywh(bbox: npt.ArrayLike, ndigits: int = 2) -> list[float]:
    """Corners (x1, y1, x2, y2) -> the contract's [x, y, width, height], rounded once here
    for every answer (images and video)."""
    x1, y1, x2, y2 = (float(v) for v in np.asarray(bbox, dtype=np.float64).reshape(4))
    return [
        round(x1, ndigits),
        round(y1, ndigits),
        round(x2 - x1, ndigits),
        round(y2 - y1, ndigits),
    ]


@dataclass
class DetectedFace:
    """One detection in original-image pixel coordinates."""

    bbox: FloatArray  # x1, y1, x2, y2
    score: float
    kps: FloatArray | None  # 5 x 2: left eye, right eye, nose, left mouth, right mouth
    landmarks_106: FloatArray | None = None
    landmarks_68: FloatArray | None = None  # dlib's shape predictor; its pose needs them

    @property
    def width(self) -> float:
        return float(self.bbox[2] - self.bbox[0])

    @property
    def height(self) -> float:
        return float(self.bbox[3] - self.bbox[1])


# N x 2 float64 (x, y) in pixels: arrays cross the service boundary as pickle buffers, which
# unpickle in one copy where a list of pairs built ~2 float objects per point.
Points = npt.NDArray[np.float64]


@dataclass(frozen=True)
class FaceRecord:
    """What the face model service returns for one face: the detection and its embedding.

    The one type for a face between the model service, ``/analyze`` and the video pipeline.
    Across the BentoML boundary it travels as ``facereid.wire.faces.FaceWire``. ``bbox`` is
    x1, y1, x2, y2 in the pixels of the image the service saw; ``xywh()`` is the contract's
    form.
    """

    bbox: Box
    score: float
    embedding: FloatArray  # L2-normalised float32
    kps: Points | None = None  # 5 x 2
    landmarks_106: Points | None = None
    quality: FaceQuality | None = None  # facereid.faces.quality, set by the face service
    attributes: FaceAttributes | None = None  # only when asked for (issue 24)

    @classmethod
    def from_detection(
        cls,
        face: DetectedFace,
        embedding: FloatArray,
        attributes: FaceAttributes | None = None,
    ) -> FaceRecord:
        x1, y1, x2, y2 = (float(v) for v in face.bbox)
        return cls(
            bbox=(x1, y1, x2, y2),
            score=float(face.score),
            embedding=np.asarray(embedding, dtype=np.float32),
            kps=_points(face.kps),
            landmarks_106=_points(face.landmarks_106),
            attributes=attributes,
        )

    def xywh(self, ndigits: int = 2) -> list[float]:
        return xyxy_to_xywh(self.bbox, ndigits)

    def scaled(self, factor_x: float, factor_y: float | None = None) -> FaceRecord:
        """The same face in an image ``factor_x`` (and ``factor_y``, default the same) times
        the size: video frames and large photos are processed downscaled and reported in
        original pixels."""
        fx, fy = factor_x, factor_x if factor_y is None else factor_y
        x1, y1, x2, y2 = self.bbox

        def points(value: Points | None) -> Points | None:
            return None if value is None else value * np.array([fx, fy])

        return replace(
            self,
            bbox=(x1 * fx, y1 * fy, x2 * fx, y2 * fy),
            kps=points(self.kps),
            landmarks_106=points(self.landmarks_106),
        )


def _points(value: Any) -> Points | None:
    """Pairs (a list or an array, from an engine or the wire) as an N x 2 float64 array."""
    if value is None:
        return None
    return np.asarray(value, dtype=np.float64).reshape(-1, 2)
