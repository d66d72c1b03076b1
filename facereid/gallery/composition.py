"""The API side of each gallery route: validate, turn images into embeddings, call the store.

Model calls and the store are injected (``GalleryCalls``), so this module has no BentoML in
it; ``runners/gallery_api.py`` wires it to the face model service and the store service.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from facereid.analysis.analyze import RemoteFaces
from facereid.config import Settings
from facereid.errors import FaceReIDError, NoFaceError
from facereid.faces.records import FaceRecord
from facereid.gallery import requests as check
from facereid.gallery.cursors import CursorCodec, cursor_secret
from facereid.gallery.errors import InvalidGalleryRequestError, error_from_payload
from facereid.intake.budget import ImageHeader
from facereid.matching.similarity import encode_embedding_b64, l2_normalize

logger = logging.getLogger(__name__)

Execute = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass
class GalleryCalls:
    execute: Execute  # the store service's ``execute``
    # /analyze's own intake and model calls (facereid.analysis.model_client): the header and
    # limits checked here, the encoded bytes decoded in the face service next to the model
    # (no decoded image crosses the process boundary), faces in original pixels.
    read_header: Callable[[str], Awaitable[ImageHeader]]
    analyze_encoded: Callable[[ImageHeader, int], Awaitable[RemoteFaces]]
    face_model: Callable[[], Awaitable[dict[str, Any]]]
    # (tenant, gallery or None for all, erased face ids or None for all): video results that
    # named the erased faces are redacted (facereid/video/redaction.py)
    erased: Callable[[str, str | None, list[str] | None], Awaitable[int]] | None = None
    # (tenant, gallery, face ids) -> ids of stored video jobs whose results name those faces
    naming_jobs: Callable[[str, str, list[str]], Awaitable[list[str]]] | None = None


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


class GalleryComposition:
    def __init__(self, settings: Settings, calls: GalleryCalls) -> None:
        self.settings = settings
        self.calls = calls
        self.cursors = CursorCodec(cursor_secret(settings.data_dir, settings.gallery_cursor_secret))

    async def store(self, operation: str, **arguments: Any) -> dict[str, Any]:
        answer = await self.calls.execute(operation, arguments)
        if "error" in answer:
            raise error_from_payload(answer["error"])
        result: dict[str, Any] = answer["result"]
        return result

    async def query(self, request: dict[str, Any], all_faces: bool = False) -> Query:
        """The request's one image (its faces) or one embedding, as rows to enrol or search."""
        image_data = request.get("image_data")
        embedding = request.get("embedding")
        embedding_b64 = request.get("embedding_b64")
        embedding_model = request.get("embedding_model")
        given = sum(x is not None for x in (image_data, embedding, embedding_b64))
        if given != 1:
            raise InvalidGalleryRequestError(
                "send exactly one of image_data, embedding, embedding_b64"
            )
        if image_data is None:
            vectors = check.one_embedding(embedding, embedding_b64)
            return Query(vectors, check.model_name(embedding_model))
        header = await self.calls.read_header(image_data)
        model = await self.calls.face_model()
        faces = (await self.calls.analyze_encoded(header, 0)).faces  # no emotion crops
        if not faces:
            raise NoFaceError("no face found in the image")
        wanted = faces if all_faces else faces[:1]
        rows = [l2_normalize(np.asarray(f.embedding, np.float32)) for f in wanted]
        source = hashlib.blake2b(header.raw, digest_size=16).hexdigest()  # the file's bytes
        return Query(
            np.stack(rows).astype(np.float32), str(model["embedding_model"]), source, faces
        )

    # -- routes ---------------------------------------------------------------------------

    async def enroll(self, tenant: str, request: dict[str, Any]) -> dict[str, Any]:
        gallery = check.gallery_name(request.get("gallery"))
        subject = check.subject_name(request.get("subject"))
        metadata = check.flat_metadata(
            request.get("metadata"), self.settings.gallery_max_metadata_bytes
        )
        image_id = _image_id(request.get("image_id"))
        q = await self.query(request)
        result = await self.store(
            "enroll",
            tenant=tenant,
            gallery=gallery,
            model=q.model,
            **store_rows(q.vectors),
            subjects=[subject],
            metadata=[metadata],
            sources=[image_id or q.source],
        )
        answer: dict[str, Any] = {
            "face_id": result["face_ids"][0],
            "gallery": gallery,
            "subject": subject,
            "embedding_model": q.model,
        }
        answer.update(q.detection())
        return answer

    async def enroll_batch(self, tenant: str, request: dict[str, Any]) -> dict[str, Any]:
        gallery = check.gallery_name(request.get("gallery"))
        model = check.model_name(request.get("embedding_model"))
        vectors = check.many_embeddings(
            request.get("embeddings"),
            request.get("embeddings_b64"),
            request.get("dim"),
            self.settings.gallery_max_batch,
        )
        n = len(vectors)
        subjects = _per_row(request.get("subjects"), n, "subjects")
        metadata = _per_row(request.get("metadata"), n, "metadata")
        image_ids = _per_row(request.get("image_ids"), n, "image_ids")
        limit = self.settings.gallery_max_metadata_bytes
        result = await self.store(
            "enroll",
            tenant=tenant,
            gallery=gallery,
            model=model,
            **store_rows(vectors),
            subjects=[
                check.subject_name(s, field=f"subjects[{i}]") for i, s in enumerate(subjects)
            ],
            metadata=[check.flat_metadata(m, limit) for m in metadata],
            sources=[_image_id(s) or "" for s in image_ids],
        )
        return {"face_ids": result["face_ids"], "gallery": gallery, "embedding_model": model}

    async def search(self, tenant: str, request: dict[str, Any]) -> dict[str, Any]:
        gallery = check.gallery_name(request.get("gallery"))
        top_k = check.bounded_int(
            request.get("top_k", 5), name="top_k", low=1, high=check.MAX_TOP_K
        )
        threshold = check.threshold_value(request.get("threshold"))
        all_faces = request.get("all_faces") is True
        if all_faces and request.get("image_data") is None:
            raise InvalidGalleryRequestError("all_faces needs image_data")
        q = await self.query(request, all_faces=all_faces)
        result = await self.store(
            "search",
            tenant=tenant,
            gallery=gallery,
            model=q.model,
            **store_rows(q.vectors),
            top_k=top_k,
            threshold=threshold,
        )
        answer: dict[str, Any] = {
            "matches": result["results"][0],
            "embedding_model": q.model,
            "threshold": result["threshold"],
        }
        answer.update(q.detection())
        if all_faces and q.faces is not None:
            answer["faces"] = [
                {"bbox": face.xywh(), "matches": matches}
                for face, matches in zip(q.faces, result["results"], strict=True)
            ]
        return answer

    async def subjects(self, tenant: str, request: dict[str, Any]) -> dict[str, Any]:
        gallery = check.gallery_name(request.get("gallery"))
        limit = _limit(request.get("limit", 100))
        after = self.cursors.decode(request.get("cursor"), tenant, gallery, "subjects")
        result = await self.store(
            "subjects", tenant=tenant, gallery=gallery, limit=limit, after=after
        )
        return {
            "subjects": result["subjects"],
            "next_cursor": self._cursor(tenant, gallery, "subjects", result["next"]),
        }

    async def faces(self, tenant: str, request: dict[str, Any]) -> dict[str, Any]:
        gallery = check.gallery_name(request.get("gallery"))
        subject = check.subject_name(request.get("subject"))
        limit = _limit(request.get("limit", 100))
        after = self.cursors.decode(request.get("cursor"), tenant, gallery, "faces")
        result = await self.store(
            "faces", tenant=tenant, gallery=gallery, subject=subject, limit=limit, after=after
        )
        return {
            "faces": result["faces"],
            "next_cursor": self._cursor(tenant, gallery, "faces", result["next"]),
        }

    async def export(self, tenant: str, request: dict[str, Any]) -> dict[str, Any]:
        gallery = check.gallery_name(request.get("gallery"))
        subject = check.subject_name(request.get("subject"), nullable=False)
        limit = _limit(request.get("limit", 100))
        vectors = request.get("include_embeddings", False)
        if not isinstance(vectors, bool):
            raise InvalidGalleryRequestError("include_embeddings must be true or false")
        after = self.cursors.decode(request.get("cursor"), tenant, gallery, "export")
        result = await self.store(
            "export",
            tenant=tenant,
            gallery=gallery,
            subject=subject,
            limit=limit,
            after=after,
            vectors=vectors,
        )
        ids = [face["face_id"] for face in result["faces"]]
        jobs = []
        if ids and self.calls.naming_jobs is not None:
            jobs = await self.calls.naming_jobs(tenant, gallery, ids)
        return {
            "gallery": gallery,
            "subject": subject,
            "embedding_model": result["embedding_model"],
            "faces": result["faces"],
            "video_jobs": jobs,
            "next_cursor": self._cursor(tenant, gallery, "export", result["next"]),
        }

    def _cursor(self, tenant: str, gallery: str, route: str, after: str | None) -> str | None:
        return None if after is None else self.cursors.encode(tenant, gallery, route, after)

    async def delete(self, tenant: str, request: dict[str, Any]) -> dict[str, Any]:
        gallery = check.gallery_name(request.get("gallery"))
        face_id, subject = request.get("face_id"), request.get("subject")
        if (face_id is None) == (subject is None):
            raise InvalidGalleryRequestError("send exactly one of face_id, subject")
        if face_id is not None and not isinstance(face_id, str):
            raise InvalidGalleryRequestError("face_id must be a string")
        subject = check.subject_name(subject) if subject is not None else None
        result = await self.store(
            "delete", tenant=tenant, gallery=gallery, face_id=face_id, subject=subject
        )
        erased = result.pop("face_ids", [])
        if erased and self.calls.erased is not None:
            await self.calls.erased(tenant, gallery, erased)
        return result

    async def rename(self, tenant: str, request: dict[str, Any]) -> dict[str, Any]:
        gallery = check.gallery_name(request.get("gallery"))
        subject = check.subject_name(request.get("subject"), nullable=False)
        new = check.subject_name(request.get("new_subject"), field="new_subject", nullable=False)
        return await self.store(
            "rename", tenant=tenant, gallery=gallery, subject=subject, new_subject=new
        )

    async def assign(self, tenant: str, request: dict[str, Any]) -> dict[str, Any]:
        gallery = check.gallery_name(request.get("gallery"))
        subject = check.subject_name(request.get("subject"), nullable=False)
        ids = request.get("face_ids")
        if (
            not isinstance(ids, list)
            or not 0 < len(ids) <= check.MAX_PAGE
            or not all(isinstance(i, str) for i in ids)
        ):
            raise InvalidGalleryRequestError(f"face_ids must be 1-{check.MAX_PAGE} strings")
        if len(set(ids)) != len(ids):
            raise InvalidGalleryRequestError("face_ids holds the same id more than once")
        return await self.store(
            "assign", tenant=tenant, gallery=gallery, face_ids=ids, subject=subject
        )

    async def drop(self, tenant: str, request: dict[str, Any]) -> dict[str, Any]:
        gallery = check.gallery_name(request.get("gallery"))
        result = await self.store("drop", tenant=tenant, gallery=gallery)
        if self.calls.erased is not None:
            await self.calls.erased(tenant, gallery, None)
        return result

    async def erase_tenant(self, tenant: str, request: dict[str, Any]) -> dict[str, Any]:
        """Every gallery of the caller's tenant, and the names in its video results."""
        if request.get("confirm") is not True:
            raise InvalidGalleryRequestError("send confirm: true to erase every gallery")
        result = await self.store("erase_tenant", tenant=tenant)
        redacted = 0
        if self.calls.erased is not None:
            redacted = await self.calls.erased(tenant, None, None)
        return {**result, "redacted_identities": redacted}

    async def list(self, tenant: str, request: dict[str, Any]) -> dict[str, Any]:
        return await self.store("list", tenant=tenant)

    async def cluster(self, tenant: str, request: dict[str, Any]) -> dict[str, Any]:
        gallery = check.gallery_name(request.get("gallery"))
        min_faces = check.bounded_int(
            request.get("min_faces", 3), name="min_faces", low=1, high=10_000
        )
        threshold = check.threshold_value(request.get("threshold"))
        return await self.store(
            "cluster", tenant=tenant, gallery=gallery, min_faces=min_faces, threshold=threshold
        )

    async def handle(self, route: str, tenant: str, request: dict[str, Any]) -> dict[str, Any]:
        """One entry for every route; ``FaceReIDError`` carries the caller's error."""
        handler: Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]] = getattr(self, route)
        try:
            return await handler(tenant, request)
        except FaceReIDError:
            raise
        except (ConnectionError, TimeoutError, OSError) as exc:
            from facereid.gallery.errors import GalleryUnavailableError

            raise GalleryUnavailableError(f"gallery store not reachable: {exc}") from exc


def store_rows(vectors: np.ndarray) -> dict[str, Any]:
    """Rows as the store service's ``enroll`` and ``search`` take them: one little-endian
    float32 base64 blob (``operations.decode_matrix`` reads it) and its width."""
    return {"vectors": encode_embedding_b64(vectors), "dim": int(vectors.shape[1])}


def _limit(value: object) -> int:
    return check.bounded_int(value, name="limit", low=1, high=check.MAX_PAGE)


def _image_id(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        raise InvalidGalleryRequestError("image_id must be a string of 1-64 characters")
    return value


def _per_row(values: object, n: int, name: str) -> list[Any]:
    if values is None:
        return [None] * n
    if not isinstance(values, list) or len(values) != n:
        raise InvalidGalleryRequestError(f"{name} must be a list with one entry per embedding")
    return values
