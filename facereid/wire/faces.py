"""The face service's records, as the typed parameters and answers of its APIs: which model
answers (``FaceModelInfo``), an encoded image to analyze (``EncodedRequest``), a face
(``FaceWire``) and one image's answer (``FacesWire``: its faces and emotion crops, or its own
error). BentoML pickles them between the API process and the face service, numpy arrays as
themselves; ``answer_to_wire``/``answer_from_wire`` and ``FaceWire.from_record``/``record``
are the one place each converts to and from the types the rooms use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema, field_validator

from facereid.errors import FaceReIDError
from facereid.faces.attributes import FaceAttributes
from facereid.faces.quality import FaceQuality
from facereid.faces.records import FaceRecord
from facereid.wire.errors import ErrorBody, error_from_wire, error_to_wire

Crop = np.ndarray | None  # an RGB face crop for CLIP, or None where the box had no crop
Emotions = dict[str, float] | None  # scores per label; None where none could be given


def _as(dtype: type[np.generic]) -> Any:
    """Arrays pass as themselves (pickled between the services); array-likes (lists, in
    tests) are converted."""

    def check(value: object) -> np.ndarray:
        try:
            return np.asarray(value, dtype=dtype)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"expected an array of {dtype.__name__}") from exc

    return PlainValidator(check)


def _shown(what: str) -> WithJsonSchema:
    return WithJsonSchema({"type": "array", "description": f"a numpy array of {what}"})


Float32Array = Annotated[np.ndarray, _as(np.float32), _shown("float32")]
Points = Annotated[np.ndarray, _as(np.float64), _shown("float64 points")]
RGBCrop = Annotated[np.ndarray, _as(np.uint8), _shown("uint8 RGB pixels")]


class FaceModelInfo(BaseModel):
    """The loaded face model, as ``FaceModel.info`` answers it and ``/health`` shows it."""

    model_config = ConfigDict(frozen=True)

    engine: str  # "insightface" or "dlib"
    name: str
    source: str  # "pulled", "imported", "synthetic" or "package"
    synthetic: bool
    embedding_dim: int
    embedding_model: str  # the embedding space: answers of other spaces do not compare
    tag: str | None = None
    license: Any = None  # the terms the pack carries (models.packs)


class EncodedRequest(BaseModel):
    """One image for the face service: its encoded bytes and how many of its faces (largest
    first) need emotion crops."""

    raw: bytes
    crops: int = 0
    attributes: bool = False  # age, gender and pose for its faces (issue 24)
    # the emotion engine's crop margin (its health answer); None: EMOTION_CROP_MARGIN
    crop_margin: float | None = Field(default=None, ge=0, le=4)

    @field_validator("crops")
    @classmethod
    def _not_negative(cls, value: int) -> int:
        return max(0, value)


class FaceWire(BaseModel):
    """One ``FaceRecord`` on the wire."""

    bbox: list[float] = Field(min_length=4, max_length=4)  # x1, y1, x2, y2
    score: float
    embedding: Float32Array
    kps: Points | None = None
    landmarks_106: Points | None = None
    quality: FaceQuality | None = None
    attributes: FaceAttributes | None = None

    @classmethod
    def from_record(cls, face: FaceRecord) -> FaceWire:
        return cls(
            bbox=list(face.bbox),
            score=face.score,
            embedding=face.embedding,
            kps=face.kps,
            landmarks_106=face.landmarks_106,
            quality=face.quality,
            attributes=face.attributes,
        )

    def record(self) -> FaceRecord:
        x1, y1, x2, y2 = self.bbox
        return FaceRecord(
            (x1, y1, x2, y2),
            self.score,
            self.embedding,
            self.kps,
            self.landmarks_106,
            quality=self.quality,
            attributes=self.attributes,
        )


class FacesWire(BaseModel):
    """One image's answer from the face service: its faces and crops, or its own error."""

    faces: list[FaceWire] = []
    crops: list[RGBCrop | None] = []
    error: ErrorBody | None = None


@dataclass(frozen=True)
class FacesAnswer:
    """The face service's answer for one encoded image, in the rooms' types: faces in
    original pixels (largest first) and the emotion crops it was asked for."""

    faces: list[FaceRecord]
    crops: list[Crop]


def answer_to_wire(answer: FacesAnswer | FaceReIDError) -> FacesWire:
    """One image's answer, or its own error (one image's failure is not the batch's)."""
    if isinstance(answer, FaceReIDError):
        return FacesWire(error=error_to_wire(answer))
    faces = [FaceWire.from_record(face) for face in answer.faces]
    return FacesWire(faces=faces, crops=answer.crops)


def answer_from_wire(data: FacesWire) -> FacesAnswer:
    """The answer, or the image's error raised as its own class."""
    if data.error is not None:
        raise error_from_wire(data.error)
    return FacesAnswer([face.record() for face in data.faces], list(data.crops))
