"""Error types with stable codes. The API maps each to its HTTP status.

Every failure a caller can cause has its own type and code, so clients can branch on
``error.code`` and operators can count rejections by code.
"""

from __future__ import annotations


class FaceReIDError(Exception):
    """Base class: ``code`` is stable and documented, ``status`` the HTTP status."""

    code = "internal_error"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInputError(FaceReIDError):
    code = "invalid_input"
    status = 422


class InvalidBase64Error(InvalidInputError):
    code = "invalid_base64"
    status = 400


class UnsupportedImageError(InvalidInputError):
    code = "unsupported_image"
    status = 415


class CorruptImageError(InvalidInputError):
    code = "corrupt_image"
    status = 400


class ImageTooLargeError(InvalidInputError):
    code = "image_too_large"
    status = 413


class DecompressionBombError(ImageTooLargeError):
    code = "decompression_bomb"
    status = 413


class ImageTooSmallError(InvalidInputError):
    code = "image_too_small"
    status = 422


class NoFaceError(InvalidInputError):
    code = "no_face_detected"
    status = 422


class BatchTooLargeError(InvalidInputError):
    code = "batch_too_large"
    status = 413


class EmbeddingError(InvalidInputError):
    """An embedding that cannot be compared: empty, wrong length, non-finite or all-zero."""

    code = "invalid_embedding"
    status = 422


class EmbeddingModelMismatchError(EmbeddingError):
    """Two embeddings made by different models are never compared silently."""

    code = "embedding_model_mismatch"
    status = 422


class ModelNotAvailableError(FaceReIDError):
    code = "model_unavailable"
    status = 503


class ModelSignatureError(FaceReIDError):
    """A model file whose ONNX inputs/outputs are not what its role needs."""

    code = "model_signature_mismatch"
    status = 503


class EmptyImageError(InvalidInputError):
    """No image data at all: an empty string, only whitespace, or a bare data: prefix."""

    code = "empty_image"
    status = 400


class InvalidLabelsError(InvalidInputError):
    """Emotion labels that are not 1-32 unique, non-empty strings of at most 64 characters."""

    code = "invalid_emotion_labels"
    status = 422


class UnsupportedEmotionLabelsError(InvalidLabelsError):
    """Labels the emotion model cannot score: fer's model knows seven fixed classes, so a
    caller's labels must be a subset of them (docs/emotions.md)."""

    code = "unsupported_emotion_labels"
    status = 422


class InvalidFaceBoxError(InvalidInputError):
    """A face box that is not x1,y1,x2,y2 with positive size inside the image."""

    code = "invalid_face_box"
    status = 422


class EmptyBatchError(InvalidInputError):
    code = "empty_batch"
    status = 422


class TooManyRowsError(InvalidInputError):
    code = "too_many_rows"
    status = 413


class InvalidThresholdError(InvalidInputError):
    code = "invalid_threshold"
    status = 422


class ModelOverloadedError(FaceReIDError):
    """The model service sheds load: retry later."""

    code = "overloaded"
    status = 503


class ModelTimeoutError(FaceReIDError):
    code = "timeout"
    status = 504


# -- video (issue 8) ----------------------------------------------------------------------


class VideoTooLargeError(InvalidInputError):
    code = "video_too_large"
    status = 413


class VideoTooLongError(InvalidInputError):
    code = "video_too_long"
    status = 413


class VideoResolutionTooLargeError(InvalidInputError):
    code = "video_resolution_too_large"
    status = 413


class VideoTooComplexError(InvalidInputError):
    """Too many decoded frames, too much decoding time, or too many face tracks."""

    code = "video_too_complex"
    status = 413


class InvalidVideoError(InvalidInputError):
    """A video container we know, but broken (e.g. truncated before its index)."""

    code = "invalid_video"
    status = 400


class UnsupportedVideoError(InvalidInputError):
    """Not a video FFmpeg can read, or a file without a video stream."""

    code = "unsupported_video"
    status = 415


class EmptyVideoError(InvalidInputError):
    """An empty file or a video stream without a single decodable frame."""

    code = "empty_video"
    status = 422


class JobNotFoundError(InvalidInputError):
    """An unknown video job id, or one whose result has expired (VIDEO_RESULT_TTL_S)."""

    code = "job_not_found"
    status = 404


class JobNotFinishedError(InvalidInputError):
    code = "job_not_finished"
    status = 409


class TooManyJobsError(FaceReIDError):
    code = "too_many_jobs"
    status = 429


class JobCancelledError(FaceReIDError):
    """The caller cancelled the video job (POST /video/cancel)."""

    code = "job_cancelled"
    status = 409


class UnauthorizedError(FaceReIDError):
    """No valid API key (facereid.web.auth); answered with ``WWW-Authenticate: Bearer``."""

    code = "unauthorized"
    status = 401


class RateLimitedError(FaceReIDError):
    """Over the client's rate limit (facereid.web.ratelimit); answered with ``Retry-After``."""

    code = "rate_limited"
    status = 429


class PayloadTooLargeError(FaceReIDError):
    """Request body over ``MAX_REQUEST_BYTES`` (facereid.web.body_limit)."""

    code = "payload_too_large"
    status = 413


# -- intake limits (issue 12, docs/security.md) -------------------------------------


class PixelBudgetExceededError(ImageTooLargeError):
    """The images of one request decode to more pixels than ``MAX_BATCH_PIXELS``."""

    code = "pixel_budget_exceeded"
    status = 413


class EmbeddingTooLongError(EmbeddingError):
    """An embedding longer than ``MAX_EMBEDDING_DIM`` values."""

    code = "embedding_too_long"
    status = 413


# -- echoing input (issue 12) ------------------------------------------------------------

ECHO_LIMIT = 64


def echo(value: object, limit: int = ECHO_LIMIT) -> str:
    """``value`` made safe to quote in an error message or log line: at most ``limit``
    characters (an attacker's 1 MB job id must not come back 1 MB long, nor fill the logs)
    and control characters escaped (no forged log lines, no terminal escapes)."""
    text = str(value)
    cut = len(text) > limit
    text = text[:limit].encode("unicode_escape").decode("ascii")
    return f"{text}... ({len(str(value))} characters)" if cut else text


class UnknownOperatingPointError(InvalidInputError):
    """``operating_point`` names no calibrated point for this embedding model (issue 24)."""

    code = "unknown_operating_point"
    status = 422
