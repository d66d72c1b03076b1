"""Validation of gallery requests, done in the API process before anything is stored.

Names, subjects, metadata, page sizes and cursors each get a clear 4xx error; embeddings are
validated and L2-normalised by ``facereid.matching``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

import numpy as np

from facereid.errors import EmbeddingError
from facereid.gallery.errors import (
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


# Bidirectional embeddings, overrides and isolates, and the implicit marks: they reorder how a
# name is shown ("Trojan Source"), so a stored name could read differently in a log or a UI.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def has_unsafe_characters(text: str) -> bool:
    """C0 and C1 controls (Unicode category Cc: NUL-US, DEL, U+0080-U+009F such as NEL and
    CSI) and bidi controls: refused in every name the service stores and shows back."""
    return any(unicodedata.category(c) == "Cc" or c in BIDI_CONTROLS for c in text)


def subject_name(subject: object, *, field: str = "subject", nullable: bool = True) -> str | None:
    if subject is None and nullable:
        return None
    if not isinstance(subject, str) or not subject.strip():
        raise InvalidGalleryRequestError(f"{field} must be a non-empty string")
    if len(subject) > MAX_SUBJECT_CHARS or has_unsafe_characters(subject):
        raise InvalidGalleryRequestError(
            f"{field} must be at most {MAX_SUBJECT_CHARS} characters without control or "
            "bidirectional-override characters"
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
        if not isinstance(key, str) or not key or len(key) > 64 or has_unsafe_characters(key):
            raise InvalidGalleryRequestError(
                "metadata keys must be strings of 1-64 characters without control characters"
            )
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


def min_quality_value(value: object, default: float) -> float:
    """A per-request ``min_quality`` (a number in [0, 1]), else the setting."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise InvalidGalleryRequestError("min_quality must be a number in [0, 1]")
    return float(value)


def one_embedding(floats: list[float] | None, b64: str | None) -> np.ndarray:
    vec = matching.validate_embedding(embedding_wire.resolve_target(floats, b64), name="embedding")
    return unit_rows(vec.reshape(1, -1))


def many_embeddings(
    floats: list[list[float]] | None, b64: list[str] | str | None, dim: int | None, max_rows: int
) -> np.ndarray:
    rows, count = embedding_wire.resolve_rows(floats, b64, dim, max_rows=max_rows)
    if count == 0:
        raise InvalidGalleryRequestError("embeddings must hold at least one row")
    if count > max_rows:
        raise InvalidGalleryRequestError(f"{count} embeddings; the limit is {max_rows}")
    try:
        with np.errstate(over="ignore"):
            matrix = np.asarray(rows, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise EmbeddingError("embeddings must be rows of numbers of one length") from exc
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise EmbeddingError("embeddings must be rows of numbers of one length")
    return unit_rows(matrix)


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows checked and L2-normalised the one way both enrolment routes use: every value finite
    as float32, the norm taken in float64 (a row of 3e38 overflows a float32 norm to inf and
    would be stored as zeros), no zero row; float32 unit rows out."""
    if not np.isfinite(matrix).all():
        raise EmbeddingError("embeddings hold values that are not finite float32 numbers")
    wide = matrix.astype(np.float64)
    norms = np.linalg.norm(wide, axis=1, keepdims=True)
    if not (norms > 0).all():
        raise EmbeddingError("embeddings hold an all-zero row; its direction is undefined")
    unit: np.ndarray = (wide / norms).astype(np.float32)
    return unit


def model_name(model: object) -> str:
    if not isinstance(model, str) or not 0 < len(model) <= 200:
        raise InvalidGalleryRequestError(
            "embedding_model must name the model that made the embedding (from /analyze)"
        )
    return model
