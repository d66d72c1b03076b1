"""What the API process needs from each service, as protocols: the BentoML-backed clients
implement them, and so do the tests' fakes, so "go to definition" ends in a method."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from facereid.faces.records import FaceRecord
from facereid.intake.budget import ImageHeader
from facereid.wire.emotion import ClipStatus
from facereid.wire.faces import Crop, Emotions, FaceModelInfo, FacesAnswer
from facereid.wire.gallery import (
    AssignResponse,
    ClusterResponse,
    DropResponse,
    Enrolled,
    Erased,
    Expired,
    ExportPage,
    FacesPage,
    GalleryModel,
    ListResponse,
    Metadata,
    RenameResponse,
    RetentionResponse,
    Searched,
    SubjectsPage,
    TenantErased,
)


class FaceClient(Protocol):
    async def model_info(self) -> FaceModelInfo:
        """The loaded face model (asked once, then remembered)."""
        ...

    async def analyze_encoded(
        self,
        header: ImageHeader,
        crops: int,
        attributes: bool = False,
        crop_margin: float | None = None,
    ) -> FacesAnswer:
        """The encoded image, decoded next to the model: faces in original pixels, and
        emotion crops for the first ``crops`` faces (cut with ``crop_margin``, None:
        EMOTION_CROP_MARGIN). Raises the image's own error."""
        ...

    async def detect_embed(self, image: np.ndarray) -> list[FaceRecord]:
        """A decoded BGR image (a video frame): its faces, largest first."""
        ...


class EmotionClient(Protocol):
    def available(self) -> bool:
        """Whether CLIP answered its last health check."""
        ...

    def status(self) -> ClipStatus | None:
        """The emotion service's last good health answer (engine, model tag, crop margin,
        fixed labels); None while it is unavailable."""
        ...

    async def score_crops(self, crops: list[Crop], labels: list[str] | None) -> list[Emotions]:
        """Scores per crop; None for a missing crop, and everywhere when CLIP is away or
        fails: emotions degrade, they never fail an answer."""
        ...


class GalleryClient(Protocol):
    """The gallery store, one method per operation (``runners/gallery.py`` serves them)."""

    async def enroll(
        self,
        tenant: str,
        gallery: str,
        model: str,
        vectors: np.ndarray,
        subjects: list[str | None],
        metadata: list[Metadata],
        sources: list[str],
    ) -> Enrolled: ...

    async def search(
        self,
        tenant: str,
        gallery: str,
        model: str,
        vectors: np.ndarray,
        top_k: int,
        threshold: float | None,
    ) -> Searched: ...

    async def subjects(
        self, tenant: str, gallery: str, limit: int, after: str | None
    ) -> SubjectsPage: ...

    async def faces(
        self, tenant: str, gallery: str, subject: str | None, limit: int, after: str | None
    ) -> FacesPage: ...

    async def export(
        self, tenant: str, gallery: str, subject: str, limit: int, after: str | None, vectors: bool
    ) -> ExportPage: ...

    async def delete(
        self, tenant: str, gallery: str, face_id: str | None, subject: str | None
    ) -> Erased: ...

    async def rename(
        self, tenant: str, gallery: str, subject: str, new_subject: str
    ) -> RenameResponse: ...

    async def assign(
        self, tenant: str, gallery: str, face_ids: list[str], subject: str
    ) -> AssignResponse: ...

    async def drop(self, tenant: str, gallery: str) -> DropResponse: ...

    async def retention(
        self, tenant: str, gallery: str, retention_days: float | None
    ) -> RetentionResponse: ...

    async def expire(self) -> Expired: ...

    async def erase_tenant(self, tenant: str) -> TenantErased: ...

    async def info(self, tenant: str, gallery: str) -> GalleryModel: ...

    async def list_galleries(self, tenant: str) -> ListResponse: ...

    async def cluster(
        self, tenant: str, gallery: str, min_faces: int, threshold: float | None
    ) -> ClusterResponse: ...
