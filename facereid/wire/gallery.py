"""The gallery store service's answers, typed: every store API answers ``Reply[Result]``,
its result or its error (a raised exception would cross the process boundary as a bare 500,
and the store's refusals, an unknown gallery or a model mismatch, must reach the caller with
their codes). Arguments are typed parameters of each API; vectors cross as numpy arrays.

Results that the routes answer as they are live here and are the routes' documented answers
too (``facereid.gallery.schemas`` imports them): one shape, from the store to the client.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from facereid.errors import FaceReIDError
from facereid.wire.errors import ErrorBody, error_from_wire, error_to_wire

T = TypeVar("T")
Metadata = dict[str, str | int | float | bool | None]


class Reply(BaseModel, Generic[T]):
    """A store API's answer: ``result`` or ``error``, never both."""

    result: T | None = None
    error: ErrorBody | None = None

    def unwrap(self) -> T:
        """The result, or the store's error raised as its own class."""
        if self.error is not None:
            raise error_from_wire(self.error)
        if self.result is None:
            raise FaceReIDError("the gallery store answered neither a result nor an error")
        return self.result


def reply(kind: type[Reply[T]], run: Callable[[], T]) -> Reply[T]:
    """``run()`` as a reply of ``kind``; a ``FaceReIDError`` becomes the reply's error."""
    try:
        return kind(result=run())
    except FaceReIDError as exc:
        return kind(error=error_to_wire(exc))


class Enrolled(BaseModel):
    face_ids: list[str]


class Searched(BaseModel):
    results: list[list[GalleryMatch]]  # per query row, best first, at or above the threshold
    threshold: float


class SubjectsPage(BaseModel):
    subjects: list[SubjectCount]
    next: str | None  # the last subject of this page, when there are more


class FacesPage(BaseModel):
    faces: list[GalleryFace]
    next: str | None  # the last face id of this page, when there are more


class Erased(BaseModel):
    """A delete's result: the count the route answers, and the ids erased, for the API
    service's redaction of video results (they never reach the caller)."""

    deleted: int
    face_ids: list[str]


class ExpiredFaces(BaseModel):
    tenant: str
    gallery: str
    face_ids: list[str]


class Expired(BaseModel):
    """A retention sweep's erasures, per gallery, for the API service's redaction of video
    results and its audit entries (they never reach a caller)."""

    galleries: list[ExpiredFaces]


class TenantErased(BaseModel):
    galleries: int = Field(description="galleries erased, down to the disk")
    faces: int = Field(description="faces erased with them")


class ExportFace(BaseModel):
    face_id: str
    subject: str | None
    metadata: Metadata | None = None
    created_at: str = Field(description="ISO 8601, UTC: when the face was enrolled")
    source: str = Field(description="the image's SHA-256 digest, or the caller's image_id")
    embedding: list[float] | None = Field(
        default=None, description="only with include_embeddings: true"
    )


class ExportPage(BaseModel):
    embedding_model: str | None
    faces: list[ExportFace]
    next: str | None  # the last face id of this page, when there are more


class GalleryModel(BaseModel):
    """One gallery's embedding space, without counting its faces."""

    gallery: str
    embedding_model: str
    dim: int


# -- answered by the routes as they are -------------------------------------------------


class GalleryMatch(BaseModel):
    face_id: str
    subject: str | None
    similarity: float = Field(description="cosine similarity, at or above the threshold")
    metadata: Metadata | None = None


class SubjectCount(BaseModel):
    subject: str
    faces: int


class GalleryFace(BaseModel):
    face_id: str
    subject: str | None
    metadata: Metadata | None = None
    created_at: str = Field(description="ISO 8601, UTC")


class DeleteResponse(BaseModel):
    deleted: int


class RenameResponse(BaseModel):
    renamed: int
    merged: bool


class AssignResponse(BaseModel):
    assigned: int


class DropResponse(BaseModel):
    dropped: str = Field(description="the gallery's name")
    deleted: int = Field(description="faces removed with it")


class RetentionResponse(BaseModel):
    gallery: str
    retention_days: float | None = Field(
        description="the gallery's own retention in days (0: kept until deleted); null: none"
    )
    effective_days: float = Field(
        description="what the sweeper applies: the gallery's own, else GALLERY_RETENTION_DAYS"
    )


class GalleryInfo(BaseModel):
    gallery: str
    embedding_model: str | None = None
    dim: int | None = None
    faces: int
    retention_days: float | None = Field(
        default=None,
        description="days a face is kept after enrolment (0: until deleted): the gallery's own "
        "retention, else GALLERY_RETENTION_DAYS",
    )


class ListResponse(BaseModel):
    galleries: list[GalleryInfo]


class Cluster(BaseModel):
    cluster_id: str = Field(description="the id of the cluster's most central face")
    face_ids: list[str]
    size: int


class ClusterResponse(BaseModel):
    clusters: list[Cluster] = Field(description="largest first")
    unclustered: int = Field(description="unnamed faces in no cluster")
    threshold: float
