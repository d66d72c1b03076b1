"""Gallery failures with stable codes (docs/gallery.md lists them)."""

from __future__ import annotations

from facereid.errors import FaceReIDError, InvalidInputError


class GalleryNotFoundError(FaceReIDError):
    """Unknown gallery, or one that belongs to another tenant (never told apart)."""

    code = "gallery_not_found"
    status = 404


class InvalidGalleryRequestError(InvalidInputError):
    code = "invalid_gallery_request"
    status = 422


class MetadataTooLargeError(InvalidInputError):
    code = "metadata_too_large"
    status = 413


class InvalidCursorError(InvalidInputError):
    code = "invalid_cursor"
    status = 400


class GalleryQuotaError(FaceReIDError):
    """The tenant holds ``GALLERY_MAX_GALLERIES_PER_TENANT`` galleries already."""

    code = "gallery_quota_exceeded"
    status = 429


class FaceQuotaError(FaceReIDError):
    """The enrolment would take the tenant past ``GALLERY_MAX_FACES_PER_TENANT`` faces."""

    code = "face_quota_exceeded"
    status = 413


class GalleryBusyError(FaceReIDError):
    """A clustering runs already; one at a time, so that it cannot hold every store thread."""

    code = "gallery_busy"
    status = 429


class GalleryUnavailableError(FaceReIDError):
    """The store service did not answer."""

    code = "gallery_unavailable"
    status = 503


class FaceQualityTooLowError(FaceReIDError):
    """The enrolled face's quality is under ``min_quality``; the message names the failing
    components and their values (docs/quality.md)."""

    code = "face_quality_too_low"
    status = 422
