"""The documented 200 answers of the image routes and ``GET /health``, as pydantic models for
the OpenAPI at ``/docs.json`` (and for generated clients); the video routes' are in
``facereid.video.schemas``, the galleries' in ``facereid.gallery.schemas``, the error body in
``facereid.wire.errors``. Routes build their answers as plain dicts (``responses.py``); these
models describe them, and the integration suite checks every 200 against them.
``docs/api.md`` is the prose version.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from facereid.faces.quality import FaceQuality
from facereid.wire.errors import ErrorResponse

Point = list[float]


class PoseOut(BaseModel):
    pitch: float = Field(description="degrees, rotation about the image's x axis (nodding)")
    yaw: float = Field(description="degrees, rotation about the vertical axis (turning)")
    roll: float = Field(description="degrees, rotation in the image plane (tilt)")


class Attributes(BaseModel):
    """Age, gender and head pose of a face, with include_attributes (issue 24)."""

    age: int | None = Field(description="estimated age in years; null when the engine has none")
    gender: Literal["male", "female"] | None = Field(
        description="estimated gender; null when the engine has no model for it"
    )
    gender_probability: float | None = Field(
        description="the model's probability of that gender (softmax of its two outputs), 0.5..1"
    )
    pose: PoseOut | None = Field(description="head pose in degrees; null when not computed")
    source: str = Field(
        description="what computed them (engine/model, '(synthetic)' for stand-ins)"
    )
    reason: str | None = Field(description="why a field is null; null when none is")


class FaceResult(BaseModel):
    face_id: str = Field(description="random UUID for this face in this answer")
    bbox: list[float] = Field(
        min_length=4, max_length=4, description="x, y, width, height in original pixels"
    )
    landmarks: list[Point] = Field(description="106 points when available, else the 5 below")
    embedding: list[float] | None = Field(
        None, description="L2-normalised identity vector (absent with embedding_encoding=base64)"
    )
    embedding_b64: str | None = Field(
        None, description="little-endian float32 embedding, with embedding_encoding=base64"
    )
    confidence: float = Field(description="detection score, 0..1")
    emotions: dict[str, float] | None = Field(
        description="label -> probability; null when the emotion model is unavailable or "
        "emotions were off"
    )
    emotion_model: str | None = Field(
        None,
        description="store tag of the model that scored emotions (facereid-clip or "
        "facereid-fer); null when emotions is",
    )
    timestamp: str = Field(description="UTC ISO 8601 time of the analysis")
    keypoints: list[Point] = Field(description="detector's 5 points: eyes, nose, mouth corners")
    embedding_model: str = Field(description="engine/pack/dim: only equal values are comparable")
    model_synthetic: bool = Field(description="true when stand-in models made this result")
    quality: FaceQuality | None = Field(
        None, description="score in 0..1 = min of its components (docs/quality.md)"
    )
    attributes: Attributes | None = Field(
        None, description="age, gender and pose; only with include_attributes"
    )


class AnalyzeResponse(FaceResult):
    """The primary (largest) face at the top level."""

    num_faces: int
    faces: list[FaceResult] | None = Field(None, description="every face, with return_all_faces")


class AnalyzeBatchResponse(BaseModel):
    results: list[AnalyzeResponse | ErrorResponse] = Field(
        description="one per image, in order: an analysis or that image's error"
    )
    count: int


class CompareResponse(BaseModel):
    similarity: float = Field(description="cosine similarity, -1..1")
    # issue 24: present when the request named an operating_point
    operating_point: str | None = Field(default=None, description="the calibrated point used")
    threshold: float | None = Field(default=None, description="its threshold for this model")
    match: bool | None = Field(default=None, description="similarity >= threshold")


class Match(BaseModel):
    index: int = Field(description="row of the gallery")
    similarity: float


class MatchesResponse(RootModel[list[Match]]):
    """Rows at or above ``threshold``, most similar first, at most ``top_k``."""


class HealthResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Literal["healthy", "degraded", "unavailable", "starting"]
    clip_service: Literal["available", "unavailable", "unknown"]
    engine: str | None = None
    face_model: dict[str, Any] | None = None
    clip_model: dict[str, Any] | None = Field(
        None, description="the emotion service's answer (kept for older clients)"
    )
    emotion_model: dict[str, Any] | None = Field(
        None,
        description="the emotion engine (clip or fer), its model tag, licence and training "
        "data terms, crop margin and labels; null while it is unavailable",
    )
    reason: str | None = Field(None, description="why not healthy")
    warning: str | None = Field(None, description="set when synthetic models are loaded")
