"""The face service's records: which model answers, an encoded image to analyze, and its
answer. Each has one ``to_wire``/``from_wire`` pair; BentoML pickles the wire forms (dicts of
bytes, lists and numpy arrays) between the API process and the face service."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from typing_extensions import TypedDict

from facereid.errors import FaceReIDError
from facereid.faces.records import FaceRecord
from facereid.wire.errors import ErrorBody, error_from_wire, error_to_wire

Crop = np.ndarray | None  # an RGB face crop for CLIP, or None where the box had no crop
Emotions = dict[str, float] | None  # scores per label; None where none could be given


@dataclass(frozen=True)
class FaceModelInfo:
    """The loaded face model, as ``FaceModel.info`` answers it and ``/health`` shows it."""

    engine: str  # "insightface" or "dlib"
    name: str
    source: str  # "pulled", "imported", "synthetic" or "package"
    synthetic: bool
    embedding_dim: int
    embedding_model: str  # the embedding space: answers of other spaces do not compare
    tag: str | None = None
    license: Any = None  # the terms the pack carries (models.packs)

    def to_wire(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> FaceModelInfo:
        return cls(
            engine=str(data["engine"]),
            name=str(data["name"]),
            source=str(data["source"]),
            synthetic=bool(data["synthetic"]),
            embedding_dim=int(data["embedding_dim"]),
            embedding_model=str(data["embedding_model"]),
            tag=None if data.get("tag") is None else str(data["tag"]),
            license=data.get("license"),
        )


class EncodedWire(TypedDict):
    image: bytes
    crops: int


@dataclass(frozen=True)
class EncodedRequest:
    """One image for the face service: its encoded bytes and how many of its faces (largest
    first) need emotion crops."""

    raw: bytes
    crops: int = 0

    def to_wire(self) -> EncodedWire:
        return {"image": self.raw, "crops": self.crops}

    @classmethod
    def from_wire(cls, data: Any) -> EncodedRequest:
        if not isinstance(data, dict) or not isinstance(data.get("image"), bytes):
            raise TypeError("an encoded request is {'image': bytes, 'crops': int}")
        crops = data.get("crops", 0)
        return cls(data["image"], crops if isinstance(crops, int) and crops > 0 else 0)


class FacesWire(TypedDict, total=False):
    faces: list[dict[str, Any]]  # FaceRecord.to_wire()
    crops: list[Crop]
    error: ErrorBody


@dataclass(frozen=True)
class FacesAnswer:
    """The face service's answer for one encoded image: faces in original pixels (largest
    first) and the emotion crops it was asked for."""

    faces: list[FaceRecord]
    crops: list[Crop]

    def to_wire(self) -> FacesWire:
        return {"faces": [face.to_wire() for face in self.faces], "crops": self.crops}


def answer_to_wire(answer: FacesAnswer | FaceReIDError) -> FacesWire:
    """One image's answer, or its own error (one image's failure is not the batch's)."""
    if isinstance(answer, FaceReIDError):
        return {"error": error_to_wire(answer)}
    return answer.to_wire()


def answer_from_wire(data: FacesWire) -> FacesAnswer:
    """The answer, or the image's error raised as its own class."""
    if "error" in data:
        raise error_from_wire(data["error"])
    faces = [FaceRecord.from_wire(face) for face in data.get("faces", [])]
    return FacesAnswer(faces, list(data.get("crops", [])))
