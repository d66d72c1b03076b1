"""The documented 200 answers of the /video/* routes, for the OpenAPI at ``/docs.json``
(docs/video.md is the prose version)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from facereid.wire.errors import ErrorDetail


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
    video: dict[str, Any] = Field(
        description="width, height, duration_s, fps, codec, container, size_bytes, sample_fps,"
        " truncated, start_s (the first frame's time on the stream's clock)"
    )
    embedding_model: str
    identity_threshold: float
    frames_sampled: int
    frames_with_faces: int
    num_identities: int
    identities: list[dict[str, Any]] = Field(description="see docs/video.md")
