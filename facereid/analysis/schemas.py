"""The documented 200 answers of every route, as pydantic models for the OpenAPI at
``/docs.json`` (and for generated clients). Routes build their answers as plain dicts
(``responses.py``, ``facereid.video``); these models describe them and a unit test checks
that real answers validate against them. ``docs/api.md`` is the prose version.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

Point = list[float]


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")  # e.g. ``fields`` on 422, ``job_id`` on video

    code: str = Field(description="stable machine-readable code (docs/api.md#error-codes)")
    message: str


class ErrorResponse(BaseModel):
    """Every 4xx/5xx answer, whatever produced it."""

    error: ErrorDetail


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
        description="label -> probability; null when CLIP is unavailable or emotions were off"
    )
    timestamp: str = Field(description="UTC ISO 8601 time of the analysis")
    keypoints: list[Point] = Field(description="detector's 5 points: eyes, nose, mouth corners")
    embedding_model: str = Field(description="engine/pack/dim: only equal values are comparable")
    model_synthetic: bool = Field(description="true when stand-in models made this result")


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


class JobProgress(BaseModel):
    frames_done: int
    frames_total: int | None
    fraction: float | None


class VideoJobStatus(BaseModel):
    job_id: str
    status: Literal["queued", "running", "completed", "failed", "cancelled"]
    progress: JobProgress
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    expires_at: str | None
    error: ErrorDetail | None = Field(None, description="a failed or cancelled job's error")


class VideoResult(BaseModel):
    model_config = ConfigDict(extra="allow")

    job_id: str
    status: Literal["completed"]
    video: dict[str, Any] = Field(description="width, height, duration_s, fps, codec, ...")
    embedding_model: str
    identity_threshold: float
    frames_sampled: int
    frames_with_faces: int
    num_identities: int
    identities: list[dict[str, Any]] = Field(description="see docs/video.md")


class HealthResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Literal["healthy", "degraded", "unavailable", "starting"]
    clip_service: Literal["available", "unavailable", "unknown"]
    engine: str | None = None
    face_model: dict[str, Any] | None = None
    clip_model: dict[str, Any] | None = None
    reason: str | None = Field(None, description="why not healthy")
    warning: str | None = Field(None, description="set when synthetic models are loaded")
