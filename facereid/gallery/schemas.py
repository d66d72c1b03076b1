"""The documented 200 answers of the /gallery/* routes, for the OpenAPI at ``/docs.json``
(docs/gallery.md is the prose version). The routes answer plain dicts built in
``facereid.gallery.composition``; these models describe them."""

from __future__ import annotations

from pydantic import BaseModel, Field

Metadata = dict[str, str | int | float | bool | None]


class EnrollResponse(BaseModel):
    face_id: str
    gallery: str
    subject: str | None = Field(description="null: an unnamed face, to be clustered")
    embedding_model: str
    bbox: list[float] | None = Field(None, description="x, y, width, height, with an image")
    num_faces: int | None = Field(None, description="faces in the image, with an image")


class EnrollBatchResponse(BaseModel):
    face_ids: list[str] = Field(description="in row order")
    gallery: str | None = None
    embedding_model: str | None = None


class GalleryMatch(BaseModel):
    face_id: str
    subject: str | None
    similarity: float = Field(description="cosine similarity, at or above the threshold")
    metadata: Metadata | None = None


class FaceMatches(BaseModel):
    bbox: list[float]
    matches: list[GalleryMatch]


class SearchResponse(BaseModel):
    matches: list[GalleryMatch] = Field(description="best first")
    embedding_model: str
    threshold: float
    bbox: list[float] | None = None
    num_faces: int | None = None
    faces: list[FaceMatches] | None = Field(None, description="with all_faces: one per face")


class SubjectCount(BaseModel):
    subject: str
    faces: int


class SubjectsResponse(BaseModel):
    subjects: list[SubjectCount]
    next_cursor: str | None


class GalleryFace(BaseModel):
    face_id: str
    subject: str | None
    metadata: Metadata | None = None
    created_at: str = Field(description="ISO 8601, UTC")


class FacesResponse(BaseModel):
    faces: list[GalleryFace]
    next_cursor: str | None


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


class ExportFace(BaseModel):
    face_id: str
    subject: str | None
    metadata: Metadata | None = None
    created_at: str = Field(description="ISO 8601, UTC: when the face was enrolled")
    source: str = Field(description="the image's SHA-256 digest, or the caller's image_id")
    embedding: list[float] | None = Field(
        default=None, description="only with include_embeddings: true"
    )


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
    prev_hash: str
    hash: str = Field(description="SHA-256 over prev_hash and the entry: a hash chain")


class AuditResponse(BaseModel):
    entries: list[AuditEntry]
    next_cursor: int | None = Field(description="pass as cursor for the next page")


class TenantEraseResponse(BaseModel):
    galleries: int = Field(description="galleries erased, down to the disk")
    faces: int = Field(description="faces erased with them")
    redacted_identities: int = Field(description="video result identities no longer named")


class GalleryInfo(BaseModel):
    gallery: str
    embedding_model: str | None = None
    dim: int | None = None
    faces: int


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
