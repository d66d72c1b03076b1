"""Build the contract's response shapes from model-service results."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import numpy as np

from facereid.faces.attributes import FaceAttributes
from facereid.faces.records import FaceRecord, Points
from facereid.wire.faces import FaceModelInfo


def face_payload(
    face: FaceRecord,
    *,
    emotions: dict[str, float] | None,
    model: FaceModelInfo,
    emotion_model: str | None = None,
    timestamp: str,
    attributes: bool = False,
) -> dict[str, Any]:
    """The seed's /analyze fields for one face, plus what made the embedding.

    ``bbox`` is x, y, width, height in original pixels; ``landmarks`` are the 106-point
    landmarks when the pack has that model and the detector's five points otherwise;
    ``emotion_model`` is the store tag of the model that scored ``emotions``. With
    ``attributes`` the face's ``attributes`` (``attributes_payload``) are added.
    """
    payload = {
        "face_id": str(uuid.uuid4()),
        "bbox": face.xywh(),
        "landmarks": _rounded(face.kps if face.landmarks_106 is None else face.landmarks_106),
        "embedding": face.embedding.tolist(),
        "confidence": round(face.score, 6),
        "emotions": emotions,
        "emotion_model": emotion_model,
        "timestamp": timestamp,
        "keypoints": _rounded(face.kps),
        "embedding_model": model.embedding_model,
        "model_synthetic": model.synthetic,
        "quality": None if face.quality is None else face.quality.model_dump(),
    }
    if attributes:
        payload["attributes"] = attributes_payload(face.attributes)
    return payload


def attributes_payload(found: FaceAttributes | None) -> dict[str, Any]:
    """The contract's ``attributes`` object (``schemas.Attributes``)."""
    if found is None:
        found = FaceAttributes(source="none", reason="the face service computed no attributes")
    return asdict(found)  # its fields are the contract's, the pose's pitch, yaw and roll too


def utc_timestamp() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _rounded(points: Points | None) -> list[list[float]]:
    return [] if points is None else np.round(points, 2).tolist()
