"""The /gallery/* routes' request bodies and documented 200 answers, for the OpenAPI at
``/docs.json`` (docs/gallery.md is the prose version). The store's results reuse the answer
models (``facereid.wire.gallery``); ``facereid.gallery.composition`` builds the answers."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    field_validator,
)

from facereid.analysis.schemas import Attributes
from facereid.faces.quality import FaceQuality
from facereid.wire.gallery import (
    AssignResponse,
    Cluster,
    ClusterResponse,
    DeleteResponse,
    DropResponse,
    ExportFace,
    GalleryFace,
    GalleryInfo,
    GalleryMatch,
    ListResponse,
    Metadata,
    RenameResponse,
    RetentionResponse,
    SubjectCount,
    TenantErased,
)


class EnrollResponse(BaseModel):
    face_id: str
    gallery: str
    subject: str | None = Field(description="null: an unnamed face, to be clustered")
    embedding_model: str
    bbox: list[float] | None = Field(None, description="x, y, width, height, with an image")
    num_faces: int | None = Field(None, description="faces in the image, with an image")
    quality: FaceQuality | None = Field(
        None, description="the enrolled face's quality, with an image (docs/quality.md)"
    )
    attributes: Attributes | None = Field(
        None, description="the enrolled face's age, gender and pose, with include_attributes"
    )


class EnrollBatchResponse(BaseModel):
    face_ids: list[str] = Field(description="in row order")
    gallery: str | None = None
    embedding_model: str | None = None


class FaceMatches(BaseModel):
    bbox: list[float]
    matches: list[GalleryMatch]


class SearchResponse(BaseModel):
    matches: list[GalleryMatch] = Field(description="best first")
    embedding_model: str
    threshold: float
    operating_point: str | None = Field(None, description="the calibrated point, when named")
    bbox: list[float] | None = None
    num_faces: int | None = None
    faces: list[FaceMatches] | None = Field(None, description="with all_faces: one per face")


class SubjectsResponse(BaseModel):
    subjects: list[SubjectCount]
    next_cursor: str | None


class FacesResponse(BaseModel):
    faces: list[GalleryFace]
    next_cursor: str | None


class ExportResponse(BaseModel):
    gallery: str
    subject: str
    embedding_model: str | None = None
    faces: list[ExportFace]
    video_jobs: list[str] = Field(description="stored video jobs whose results name these faces")
    next_cursor: str | None


class AuditEntry(BaseModel):
    seq: int
    at: float = Field(description="Unix seconds")
    key_id: str | None = Field(description="the API key's id (a digest prefix), null without keys")
    route: str
    gallery: str | None
    subject_digest: str | None = Field(description="SHA-256 prefix of tenant and subject")
    counts: dict[str, int]
    request_id: str | None
    refused: str | None = Field(
        default=None, description="the error code, where the operation was refused"
    )
    job_id: str | None = Field(default=None, description="the video job that used the gallery")
    prev_hash: str
    hash: str = Field(description="SHA-256 over prev_hash and the entry: a hash chain")


class AuditResponse(BaseModel):
    entries: list[AuditEntry]
    next_cursor: int | None = Field(description="pass as cursor for the next page")


class TenantEraseResponse(TenantErased):
    video_jobs: int = Field(description="video jobs deleted, with their results and uploads")
    cached_analyses: int = Field(description="repeated-image cache entries removed")


# -- requests: each route's whole JSON body (a positional-only parameter: BentoML's root
# input), typed as the routes' signatures were; semantic checks (names, sizes, one of several
# sources) are facereid.gallery.requests'.


class EnrollRequest(BaseModel):
    gallery: str
    subject: str | None = None
    image_data: str | None = None
    embedding: list[StrictFloat] | None = None
    embedding_b64: str | None = None
    embedding_model: str | None = None
    metadata: dict[str, Any] | None = None
    image_id: str | None = None
    min_quality: StrictFloat | None = Field(
        default=None,
        description="0..1; refuse an image's face under this quality (GALLERY_MIN_QUALITY)",
    )
    include_attributes: StrictBool = False  # with image_data: answer the face's attributes


class EnrollBatchRequest(BaseModel):
    gallery: str
    embedding_model: str
    embeddings: list[list[StrictFloat]] | None = None
    embeddings_b64: list[str] | str | None = None
    dim: StrictInt | None = None
    subjects: list[str | None] | None = None
    metadata: list[dict[str, Any] | None] | None = None
    image_ids: list[str | None] | None = None


class SearchRequest(BaseModel):
    gallery: str
    image_data: str | None = None
    embedding: list[StrictFloat] | None = None
    embedding_b64: str | None = None
    embedding_model: str | None = None
    top_k: StrictInt = 5
    threshold: StrictFloat | None = None
    all_faces: StrictBool = False
    operating_point: str | None = Field(
        default=None,
        description="a calibrated point such as 'fmr_1e-3' (issue 24); replaces threshold",
    )


class SubjectsRequest(BaseModel):
    gallery: str
    limit: StrictInt = 100
    cursor: str | None = None


class FacesRequest(BaseModel):
    gallery: str
    subject: str | None = None
    limit: StrictInt = 100
    cursor: str | None = None


class DeleteRequest(BaseModel):
    gallery: str
    face_id: str | None = None
    subject: str | None = None


class RenameRequest(BaseModel):
    gallery: str
    subject: str
    new_subject: str


class AssignRequest(BaseModel):
    gallery: str
    face_ids: list[str]
    subject: str


class DropRequest(BaseModel):
    gallery: str


MAX_RETENTION_DAYS = 36_500  # a hundred years, as GALLERY_RETENTION_DAYS allows


class RetentionRequest(BaseModel):
    # no default: a body without retention_days (a typo) must not reset the gallery's retention
    model_config = ConfigDict(extra="forbid")

    gallery: str
    retention_days: Annotated[float, Field(ge=0, le=MAX_RETENTION_DAYS)] | None = Field(
        description="days a face is kept after enrolment, 0 to 36500, fractions allowed; "
        "0 keeps faces until deleted; null: GALLERY_RETENTION_DAYS applies again"
    )

    @field_validator("retention_days", mode="before")
    @classmethod
    def _finite_days(cls, value: object) -> object:
        """One clear refusal for a string, a boolean, NaN, infinity or a value out of range
        (a float field would take "30" or true, and a union names every branch it tried)."""
        if value is None:
            return None
        refusal = ValueError(
            f"retention_days must be a number of days from 0 to {MAX_RETENTION_DAYS} "
            "(0 keeps faces until deleted) or null (the default applies)"
        )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise refusal
        # the range first: math.isfinite(10**400) overflows; NaN fails every comparison
        if not 0 <= value <= MAX_RETENTION_DAYS or not math.isfinite(value):
            raise refusal
        return float(value)


class ListRequest(BaseModel):
    pass


class ClusterRequest(BaseModel):
    gallery: str
    min_faces: StrictInt = 3
    threshold: StrictFloat | None = None


__all__ = [
    "AssignResponse",
    "ExportFace",
    "TenantErased",
    "Cluster",
    "ClusterResponse",
    "DeleteResponse",
    "DropResponse",
    "GalleryFace",
    "GalleryInfo",
    "GalleryMatch",
    "ListResponse",
    "Metadata",
    "RenameResponse",
    "RetentionResponse",
    "SubjectCount",
]


class ExportRequest(BaseModel):
    gallery: str
    subject: str
    include_embeddings: StrictBool = False
    limit: StrictInt = 100
    cursor: str | None = None


class TenantEraseRequest(BaseModel):
    confirm: StrictBool = Field(description="must be true: every gallery of your tenant goes")


class AuditQueryRequest(BaseModel):
    # every field has a default, so an unknown field (a form body, a typo) is refused rather
    # than read as "everything since 1970" (tests/integration/test_hostile_http.py)
    model_config = ConfigDict(extra="forbid")

    since: StrictFloat | StrictInt = Field(default=0, description="Unix seconds, inclusive")
    until: StrictFloat | StrictInt | None = Field(default=None, description="exclusive; now")
    cursor: StrictInt = Field(default=0, description="the last seq seen")
    limit: StrictInt = 100
