"""Validation of gallery requests, done in the API process before anything is stored.

Names, subjects, metadata, page sizes and cursors each get a clear 4xx error; embeddings are
validated and L2-normalised by ``facereid.matching``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

import numpy as np

from facereid.errors import EmbeddingError
from facereid.gallery.errors import (
    InvalidCursorError,
    InvalidGalleryRequestError,
    MetadataTooLargeError,
)
from facereid.matching import similarity as matching
from facereid.matching import wire as embedding_wire

_GALLERY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MAX_SUBJECT_CHARS = 256
MAX_METADATA_KEYS = 32
MAX_PAGE = 1000
MAX_TOP_K = 100


def gallery_name(name: object) -> str:
    if not isinstance(name, str) or not _GALLERY_NAME.fullmatch(name):
        raise InvalidGalleryRequestError(
            "gallery must be 1-64 characters of letters, digits, '_', '.', '-' "
            "starting with a letter or digit"
        )
    return name


def subject_name(subject: object, *, field: str = "subject", nullable: bool = True) -> str | None:
    if subject is None and nullable:
        return None
    if not isinstance(subject, str) or not subject.strip():
        raise InvalidGalleryRequestError(f"{field} must be a non-empty string")
    if len(subject) > MAX_SUBJECT_CHARS or any(ord(c) < 32 or ord(c) == 127 for c in subject):
        raise InvalidGalleryRequestError(
            f"{field} must be at most {MAX_SUBJECT_CHARS} characters without control characters"
        )
    return subject


def flat_metadata(metadata: object, max_bytes: int) -> dict[str, Any]:
    """A flat JSON object of scalars, at most ``max_bytes`` serialised."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise InvalidGalleryRequestError("metadata must be a JSON object")
    if len(metadata) > MAX_METADATA_KEYS:
        raise MetadataTooLargeError(f"metadata holds more than {MAX_METADATA_KEYS} keys")
    for key, value in metadata.items():
        if not isinstance(key, str) or not key or len(key) > 64:
            raise InvalidGalleryRequestError("metadata keys must be strings of 1-64 characters")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise InvalidGalleryRequestError(
                f"metadata[{key!r}] must be a string, number, boolean or null (flat object)"
            )
        if isinstance(value, float) and not np.isfinite(value):
            raise InvalidGalleryRequestError(f"metadata[{key!r}] must be finite")
    size = len(json.dumps(metadata, ensure_ascii=False).encode())
    if size > max_bytes:
        raise MetadataTooLargeError(f"metadata is {size} bytes; the limit is {max_bytes}")
    return dict(metadata)


def bounded_int(value: object, *, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidGalleryRequestError(f"{name} must be an integer in [{low}, {high}]")
    return value


def threshold_value(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not -1 <= value <= 1:
        raise InvalidGalleryRequestError("threshold must be a number in [-1, 1]")
    return float(value)


def one_embedding(floats: list[float] | None, b64: str | None) -> np.ndarray:
    vec = matching.validate_embedding(embedding_wire.resolve_target(floats, b64), name="embedding")
    return matching.l2_normalize(vec).reshape(1, -1).astype(np.float32)


def many_embeddings(
    floats: list[list[float]] | None, b64: list[str] | str | None, dim: int | None, max_rows: int
) -> np.ndarray:
    rows, count = embedding_wire.resolve_rows(floats, b64, dim, max_rows=max_rows)
    if count == 0:
        raise InvalidGalleryRequestError("embeddings must hold at least one row")
    if count > max_rows:
        raise InvalidGalleryRequestError(f"{count} embeddings; the limit is {max_rows}")
    try:
        matrix = np.asarray(rows, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise EmbeddingError("embeddings must be rows of numbers of one length") from exc
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise EmbeddingError("embeddings must be rows of numbers of one length")
    if not np.isfinite(matrix).all():
        raise EmbeddingError("embeddings hold non-finite values")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    if (norms == 0).any():
        raise EmbeddingError("embeddings hold an all-zero row")
    normalised: np.ndarray = matrix / norms
    return normalised


def model_name(model: object) -> str:
    if not isinstance(model, str) or not 0 < len(model) <= 200:
        raise InvalidGalleryRequestError(
            "embedding_model must name the model that made the embedding (from /analyze)"
        )
    return model


# -- cursors: opaque to clients, bound to the gallery they page through -------------------


def encode_cursor(gallery: str, after: str) -> str:
    raw = json.dumps({"g": gallery, "a": after}, ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, gallery: str) -> str | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeError) as exc:
        raise InvalidCursorError("cursor is not one this service gave out") from exc
    if not isinstance(data, dict) or data.get("g") != gallery or not isinstance(data.get("a"), str):
        raise InvalidCursorError("cursor is not one this service gave out for this gallery")
    return str(data["a"])
