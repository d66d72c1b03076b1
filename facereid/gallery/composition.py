"""The API side of each gallery route: validate, turn images into embeddings, call the store.

Each route's typed request (``facereid.gallery.schemas``) comes in; the store is a
``GalleryClient`` and images go through the /analyze path (``Analyzer``, with its typed face
client), both injected, so this module has no BentoML in it. ``runners/gallery_api.py``
wires it to the services.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from facereid.analysis.analyze import Analyzer
from facereid.analysis.responses import attributes_payload
from facereid.config import Settings
from facereid.errors import NoFaceError
from facereid.faces.quality import FaceQuality
from facereid.faces.records import FaceRecord
from facereid.gallery import requests as check
from facereid.gallery.cursors import CursorCodec, cursor_secret
from facereid.gallery.errors import FaceQualityTooLowError, InvalidGalleryRequestError
from facereid.gallery.schemas import (
    AssignRequest,
    AssignResponse,
    ClusterRequest,
    ClusterResponse,
    DeleteRequest,
    DeleteResponse,
    DropRequest,
    DropResponse,
    EnrollBatchRequest,
    EnrollRequest,
    ExportRequest,
    ExportResponse,
    FacesRequest,
    FacesResponse,
    ListResponse,
    RenameRequest,
    RenameResponse,
    RetentionRequest,
    RetentionResponse,
    SearchRequest,
    SubjectsRequest,
    SubjectsResponse,
    TenantEraseRequest,
    TenantEraseResponse,
)
from facereid.matching import operating_points as op_points
from facereid.matching.similarity import l2_normalize
from facereid.wire.clients import GalleryClient

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Query:
    """Embeddings to enrol or search with, and where they came from."""

    vectors: np.ndarray  # rows L2-normalised
    model: str
    source: str = ""  # digest of the image the faces came from
    faces: list[FaceRecord] | None = None  # detections when an image was sent

    def detection(self) -> dict[str, Any]:
        """The primary face's box and the face count, for answers to an image; else nothing."""
        if self.faces is None:
            return {}
        return {"bbox": self.faces[0].xywh(), "num_faces": len(self.faces)}


# (tenant, gallery, erased face ids or None for all) -> identities redacted:
# video results that named the erased faces lose the names (facereid/video/redaction.py)
ErasedHook = Callable[[str, str, list[str] | None], Awaitable[int]]
# tenant -> what else of the tenant's was erased: {"video_jobs": n, "cached_analyses": m}
# (the jobs with their results and uploads, the repeated-image cache's entries)
TenantErasedHook = Callable[[str], Awaitable[dict[str, int]]]
# (tenant, gallery, face ids) -> ids of stored video jobs whose results name those faces
NamingJobs = Callable[[str, str, list[str]], Awaitable[list[str]]]


class GalleryComposition:
    def __init__(
        self,
        settings: Settings,
        store: GalleryClient,
        analyzer: Analyzer,
        on_erased: ErasedHook | None = None,
        naming_jobs: NamingJobs | None = None,
        on_tenant_erased: TenantErasedHook | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.on_erased = on_erased
        self.naming_jobs = naming_jobs
        self.on_tenant_erased = on_tenant_erased
        # /analyze's own intake and face service call: headers and limits checked here, the
        # encoded bytes decoded next to the model, faces in original pixels.
        self.analyzer = analyzer
        self.cursors = CursorCodec(cursor_secret(settings.data_dir, settings.gallery_cursor_secret))

    async def query(
        self,
        image_data: str | None,
        embedding: list[float] | None,
        embedding_b64: str | None,
        embedding_model: str | None,
        all_faces: bool = False,
        attributes: bool = False,
    ) -> Query:
        """The request's one image (its faces) or one embedding, as rows to enrol or search."""
        given = sum(x is not None for x in (image_data, embedding, embedding_b64))
        if given != 1:
            raise InvalidGalleryRequestError(
                "send exactly one of image_data, embedding, embedding_b64"
            )
        if image_data is None:
            vectors = check.one_embedding(embedding, embedding_b64)
            return Query(vectors, check.model_name(embedding_model))
        model = await self.analyzer.faces.model_info()
        # no emotion crops; attributes only when asked for
        header, answer = await self.analyzer.faces_of(image_data, attributes=attributes)
        faces = answer.faces
        if not faces:
            raise NoFaceError("no face found in the image")
        wanted = faces if all_faces else faces[:1]
        rows = [l2_normalize(np.asarray(f.embedding, np.float32)) for f in wanted]
        source = hashlib.blake2b(header.raw, digest_size=16).hexdigest()  # the file's bytes
        return Query(np.stack(rows).astype(np.float32), model.embedding_model, source, faces)

    # -- routes ---------------------------------------------------------------------------

    async def enroll(self, tenant: str, request: EnrollRequest) -> dict[str, Any]:
        gallery = check.gallery_name(request.gallery)
        subject = check.subject_name(request.subject)
        metadata = check.flat_metadata(request.metadata, self.settings.gallery_max_metadata_bytes)
        image_id = _image_id(request.image_id)
        bar = check.min_quality_value(request.min_quality, self.settings.gallery_min_quality)
        q = await self.query(
            request.image_data,
            request.embedding,
            request.embedding_b64,
            request.embedding_model,
            attributes=request.include_attributes,
        )
        quality = q.faces[0].quality if q.faces else None
        if quality is not None:
            _gate(quality, bar)
        result = await self.store.enroll(
            tenant, gallery, q.model, q.vectors, [subject], [metadata], [image_id or q.source]
        )
        answer: dict[str, Any] = {
            "face_id": result.face_ids[0],
            "gallery": gallery,
            "subject": subject,
            "embedding_model": q.model,
        }
        answer.update(q.detection())
        if quality is not None:
            answer["quality"] = quality.model_dump()
        if request.include_attributes and q.faces:
            answer["attributes"] = attributes_payload(q.faces[0].attributes)
        return answer

    async def enroll_batch(self, tenant: str, request: EnrollBatchRequest) -> dict[str, Any]:
        gallery = check.gallery_name(request.gallery)
        model = check.model_name(request.embedding_model)
        vectors = check.many_embeddings(
            request.embeddings, request.embeddings_b64, request.dim, self.settings.gallery_max_batch
        )
        n = len(vectors)
        subjects = _per_row(request.subjects, n, "subjects")
        metadata = _per_row(request.metadata, n, "metadata")
        image_ids = _per_row(request.image_ids, n, "image_ids")
        limit = self.settings.gallery_max_metadata_bytes
        result = await self.store.enroll(
            tenant,
            gallery,
            model,
            vectors,
            [check.subject_name(s, field=f"subjects[{i}]") for i, s in enumerate(subjects)],
            [check.flat_metadata(m, limit) for m in metadata],
            [_image_id(s) or "" for s in image_ids],
        )
        return {"face_ids": result.face_ids, "gallery": gallery, "embedding_model": model}

    async def search(self, tenant: str, request: SearchRequest) -> dict[str, Any]:
        gallery = check.gallery_name(request.gallery)
        top_k = check.bounded_int(request.top_k, name="top_k", low=1, high=check.MAX_TOP_K)
        threshold = check.threshold_value(request.threshold)
        if request.all_faces and request.image_data is None:
            raise InvalidGalleryRequestError("all_faces needs image_data")
        q = await self.query(
            request.image_data,
            request.embedding,
            request.embedding_b64,
            request.embedding_model,
            all_faces=request.all_faces,
        )
        point = request.operating_point
        if point is not None:  # issue 24: the calibrated threshold replaces ``threshold``
            file = self.settings.match_operating_points_file
            threshold = op_points.load(file).resolve(point, q.model).threshold
        result = await self.store.search(tenant, gallery, q.model, q.vectors, top_k, threshold)
        per_row = [[match.model_dump() for match in row] for row in result.results]
        answer: dict[str, Any] = {
            "matches": per_row[0],
            "embedding_model": q.model,
            "threshold": result.threshold,
        }
        if point is not None:
            answer["operating_point"] = point
        answer.update(q.detection())
        if request.all_faces and q.faces is not None:
            answer["faces"] = [
                {"bbox": face.xywh(), "matches": matches}
                for face, matches in zip(q.faces, per_row, strict=True)
            ]
        return answer

    async def subjects(self, tenant: str, request: SubjectsRequest) -> SubjectsResponse:
        gallery = check.gallery_name(request.gallery)
        limit = _limit(request.limit)
        after = self.cursors.decode(request.cursor, tenant, gallery, "subjects")
        page = await self.store.subjects(tenant, gallery, limit, after)
        cursor = self._cursor(tenant, gallery, "subjects", page.next)
        return SubjectsResponse(subjects=page.subjects, next_cursor=cursor)

    async def faces(self, tenant: str, request: FacesRequest) -> FacesResponse:
        gallery = check.gallery_name(request.gallery)
        subject = check.subject_name(request.subject)
        limit = _limit(request.limit)
        after = self.cursors.decode(request.cursor, tenant, gallery, "faces")
        page = await self.store.faces(tenant, gallery, subject, limit, after)
        cursor = self._cursor(tenant, gallery, "faces", page.next)
        return FacesResponse(faces=page.faces, next_cursor=cursor)

    def _cursor(self, tenant: str, gallery: str, route: str, after: str | None) -> str | None:
        return None if after is None else self.cursors.encode(tenant, gallery, route, after)

    async def delete(self, tenant: str, request: DeleteRequest) -> DeleteResponse:
        gallery = check.gallery_name(request.gallery)
        if (request.face_id is None) == (request.subject is None):
            raise InvalidGalleryRequestError("send exactly one of face_id, subject")
        subject = check.subject_name(request.subject) if request.subject is not None else None
        result = await self.store.delete(tenant, gallery, request.face_id, subject)
        if result.face_ids and self.on_erased is not None:
            await self.on_erased(tenant, gallery, result.face_ids)
        return DeleteResponse(deleted=result.deleted)  # the erased ids stay in the house

    async def export(self, tenant: str, request: ExportRequest) -> ExportResponse:
        """Everything held about a subject in a gallery (docs/privacy.md)."""
        gallery = check.gallery_name(request.gallery)
        subject = str(check.subject_name(request.subject, nullable=False))
        limit = _limit(request.limit)
        after = self.cursors.decode(request.cursor, tenant, gallery, "export")
        page = await self.store.export(
            tenant, gallery, subject, limit, after, request.include_embeddings
        )
        ids = [face.face_id for face in page.faces]
        jobs = await self.naming_jobs(tenant, gallery, ids) if ids and self.naming_jobs else []
        return ExportResponse(
            gallery=gallery,
            subject=subject,
            embedding_model=page.embedding_model,
            faces=page.faces,
            video_jobs=jobs,
            next_cursor=self._cursor(tenant, gallery, "export", page.next),
        )

    async def rename(self, tenant: str, request: RenameRequest) -> RenameResponse:
        gallery = check.gallery_name(request.gallery)
        subject = check.subject_name(request.subject, nullable=False)
        new = check.subject_name(request.new_subject, field="new_subject", nullable=False)
        return await self.store.rename(tenant, gallery, str(subject), str(new))

    async def assign(self, tenant: str, request: AssignRequest) -> AssignResponse:
        gallery = check.gallery_name(request.gallery)
        subject = check.subject_name(request.subject, nullable=False)
        ids = request.face_ids
        if not 0 < len(ids) <= check.MAX_PAGE:
            raise InvalidGalleryRequestError(f"face_ids must be 1-{check.MAX_PAGE} strings")
        if len(set(ids)) != len(ids):
            raise InvalidGalleryRequestError("face_ids holds the same id more than once")
        return await self.store.assign(tenant, gallery, ids, str(subject))

    async def drop(self, tenant: str, request: DropRequest) -> DropResponse:
        gallery = check.gallery_name(request.gallery)
        result = await self.store.drop(tenant, gallery)
        if self.on_erased is not None:
            await self.on_erased(tenant, gallery, None)
        return result

    async def retention(self, tenant: str, request: RetentionRequest) -> RetentionResponse:
        """The gallery's own retention (the request model refused anything but 0-36500 or
        null); faces past it are erased by the retention sweep (docs/privacy.md)."""
        gallery = check.gallery_name(request.gallery)
        return await self.store.retention(tenant, gallery, request.retention_days)

    async def erase_tenant(self, tenant: str, request: TenantEraseRequest) -> TenantEraseResponse:
        """Every gallery of the caller's tenant, its video jobs and its cached analyses."""
        if request.confirm is not True:
            raise InvalidGalleryRequestError("send confirm: true to erase every gallery")
        result = await self.store.erase_tenant(tenant)
        others = await self.on_tenant_erased(tenant) if self.on_tenant_erased else {}
        return TenantEraseResponse(
            **result.model_dump(),
            video_jobs=others.get("video_jobs", 0),
            cached_analyses=others.get("cached_analyses", 0),
        )

    async def list(self, tenant: str) -> ListResponse:
        return await self.store.list_galleries(tenant)

    async def cluster(self, tenant: str, request: ClusterRequest) -> ClusterResponse:
        gallery = check.gallery_name(request.gallery)
        min_faces = check.bounded_int(request.min_faces, name="min_faces", low=1, high=10_000)
        threshold = check.threshold_value(request.threshold)
        return await self.store.cluster(tenant, gallery, min_faces, threshold)


def _gate(quality: FaceQuality, bar: float) -> None:
    """Refuse a face under ``bar``, naming each component that is under it (docs/quality.md)."""
    if quality.score >= bar:
        return
    failing = ", ".join(f"{name} {value:.2f}" for name, value in quality.failing(bar).items())
    raise FaceQualityTooLowError(
        f"face quality {quality.score:.2f} is under min_quality {bar:.2f}: {failing}"
    )


def _limit(value: object) -> int:
    return check.bounded_int(value, name="limit", low=1, high=check.MAX_PAGE)


def _image_id(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        raise InvalidGalleryRequestError("image_id must be a string of 1-64 characters")
    return value


def _per_row(values: Sequence[T] | None, n: int, name: str) -> Sequence[T | None]:
    if values is None:
        return [None] * n
    if len(values) != n:
        raise InvalidGalleryRequestError(f"{name} must be a list with one entry per embedding")
    return values
