"""Embedding validation, cosine similarity and threshold matching, vectorised with numpy.

``find_matches`` normalises the target once and scores every row with one float32
matrix-vector product, so 100k x 512 rows cost one pass over the matrix. Rows whose norm is
at the edge of float32 range are re-scored in float64 so extreme scales stay exact.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import re

import numpy as np
import numpy.typing as npt

from facereid.errors import (
    EmbeddingError,
    EmbeddingModelMismatchError,
    EmbeddingTooLongError,
    InvalidInputError,
    InvalidThresholdError,
    echo,
)
from facereid.faces.records import FloatArray

logger = logging.getLogger(__name__)

_NUMERIC_KINDS = "iuf"
# float32 squares under/overflow outside this norm range; such rows are scored in float64.
_SAFE_NORM_RANGE = (1e-15, 1e18)
_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
# MAX_EMBEDDING_DIM's default: the longest embedding any supported model makes is 512; 4096
# leaves room for other models while bounding what one request can make us convert.
DEFAULT_MAX_EMBEDDING_DIM = 4096


def check_dim(size: int, *, name: str, max_dim: int) -> None:
    if size > max_dim:
        raise EmbeddingTooLongError(f"{name} has {size} values; the limit is {max_dim}")


def validate_embedding(
    vec: object, *, name: str, max_dim: int = DEFAULT_MAX_EMBEDDING_DIM
) -> FloatArray:
    """A flat, non-empty, finite, non-zero vector of numbers as float32 (not normalised),
    of at most ``max_dim`` values."""
    if isinstance(vec, list | tuple):
        check_dim(len(vec), name=name, max_dim=max_dim)  # before numpy copies it
    arr = _as_numeric_array(vec, name=name)
    if arr.ndim != 1:
        raise EmbeddingError(f"{name} must be a flat list of numbers, got shape {arr.shape}")
    if arr.size == 0:
        raise EmbeddingError(f"{name} is empty")
    check_dim(arr.size, name=name, max_dim=max_dim)
    with np.errstate(over="ignore"):
        out = arr.astype(np.float32)
    finite = np.isfinite(out)
    if not finite.all():
        i = int(np.argmin(finite))
        raise EmbeddingError(f"{name}[{i}] is not a finite float32 number ({arr[i]!r})")
    if not out.any():
        raise EmbeddingError(f"{name} is all zeros; its direction is undefined")
    return out


def l2_normalize(vec: FloatArray) -> FloatArray:
    """Unit-length float32 copy of a validated vector (the norm is taken in float64)."""
    v64 = vec.astype(np.float64)
    return (v64 / np.linalg.norm(v64)).astype(np.float32)


def cosine_similarity(
    a: object,
    b: object,
    *,
    a_name: str = "face1_embedding",
    b_name: str = "face2_embedding",
    max_dim: int = DEFAULT_MAX_EMBEDDING_DIM,
) -> float:
    """Cosine similarity of two embeddings in [-1, 1]."""
    va = validate_embedding(a, name=a_name, max_dim=max_dim).astype(np.float64)
    vb = validate_embedding(b, name=b_name, max_dim=max_dim).astype(np.float64)
    if va.shape != vb.shape:
        raise EmbeddingError(
            f"{a_name} has {va.size} values but {b_name} has {vb.size}; "
            "embeddings of different length cannot be compared"
        )
    sim = float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))
    return min(1.0, max(-1.0, sim))


def find_matches(
    target: object,
    rows: object,
    *,
    threshold: float,
    top_k: int | None = None,
    target_name: str = "target_embedding",
    rows_name: str = "embeddings",
    max_dim: int = DEFAULT_MAX_EMBEDDING_DIM,
) -> list[tuple[int, float]]:
    """Every row with cosine similarity >= ``threshold`` as ``(index, similarity)``, best
    first; ties keep request order (lower index first); at most ``top_k`` when given."""
    _check_threshold(threshold)
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise InvalidInputError(f"top_k must be a positive integer, got {top_k!r}")
    t = validate_embedding(target, name=target_name, max_dim=max_dim)
    matrix = _validate_rows(rows, dim=t.size, name=rows_name, target_name=target_name)
    if matrix.shape[0] == 0:
        return []
    sims = _row_similarities(matrix, l2_normalize(t), name=rows_name)
    idx = np.flatnonzero(sims >= threshold)
    vals = sims[idx]
    if top_k is not None and idx.size > top_k:
        idx, vals = _top_k(idx, vals, top_k)
    order = np.lexsort((idx, -vals))  # primary: similarity desc; ties: index asc
    return [(int(i), float(v)) for i, v in zip(idx[order], vals[order], strict=True)]


def encode_embedding_b64(vec: object) -> str:
    """Compact wire form: little-endian float32 bytes, standard base64."""
    arr = np.asarray(vec, dtype="<f4")
    return base64.b64encode(arr.tobytes()).decode("ascii")


def decode_float32_b64(s: str, *, name: str = "embedding") -> FloatArray:
    """Base64 (standard or urlsafe, padding optional) of little-endian float32 -> array.
    Only the encoding is checked; the values are the caller's to validate."""
    if not isinstance(s, str):
        raise EmbeddingError(f"{name} must be a base64 string, got {type(s).__name__}")
    body = "".join(s.split()).replace("-", "+").replace("_", "/")
    if not _B64.fullmatch(body) or len(body.rstrip("=")) % 4 == 1:
        raise EmbeddingError(f"{name} is not valid base64")
    try:
        body = body.rstrip("=")
        raw = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EmbeddingError(f"{name} is not valid base64: {exc}") from exc
    if len(raw) % 4:
        raise EmbeddingError(f"{name} holds {len(raw)} bytes, not a whole number of float32")
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)


def decode_embedding_b64(
    s: str,
    dim: int | None = None,
    *,
    name: str = "embedding",
    max_dim: int = DEFAULT_MAX_EMBEDDING_DIM,
) -> FloatArray:
    """Inverse of :func:`encode_embedding_b64`; checks the length against ``dim`` when given
    and validates the values like :func:`validate_embedding`."""
    if isinstance(s, str):  # from the string's length, before decoding a huge one
        check_dim(b64_float32_count(s), name=name, max_dim=max_dim)
    vec = decode_float32_b64(s, name=name)
    if dim is not None and vec.size != dim:
        raise EmbeddingError(f"{name} holds {vec.size} float32 values, expected {dim}")
    return validate_embedding(vec, name=name, max_dim=max_dim)


def b64_float32_count(s: str) -> int:
    """About how many float32 values a base64 string holds (whitespace counted too, so
    never an underestimate)."""
    return (len(s) * 3 // 4) // 4


def _as_numeric_array(value: object, *, name: str) -> npt.NDArray[np.generic]:
    if value is None or isinstance(value, str | bytes | dict):
        raise EmbeddingError(f"{name} must be a list of numbers, got {type(value).__name__}")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise EmbeddingError(f"{name} must be a list of numbers of equal length: {exc}") from exc
    if arr.dtype.kind not in _NUMERIC_KINDS:
        raise EmbeddingError(f"{name} must contain only numbers (got dtype {arr.dtype})")
    return arr


def _validate_rows(rows: object, *, dim: int, name: str, target_name: str) -> FloatArray:
    if isinstance(rows, list | tuple):
        for i, row in enumerate(rows):  # name the ragged row before numpy's generic error
            if not isinstance(row, list | tuple | np.ndarray):
                raise EmbeddingError(f"{name}[{i}] must be a list of numbers")
            if len(row) != dim:
                raise EmbeddingError(
                    f"{name}[{i}] has {len(row)} values but {target_name} has {dim}"
                )
    arr = _as_numeric_array(rows, name=name)
    if arr.size == 0 and arr.ndim <= 2:
        return np.zeros((0, dim), dtype=np.float32)
    if arr.ndim != 2:
        raise EmbeddingError(f"{name} must be a list of vectors, got shape {arr.shape}")
    if arr.shape[1] != dim:
        raise EmbeddingError(f"{name} rows have {arr.shape[1]} values but {target_name} has {dim}")
    with np.errstate(over="ignore"):
        matrix = np.ascontiguousarray(arr, dtype=np.float32)
    bad_rows = ~np.isfinite(matrix).all(axis=1)
    if bad_rows.any():
        i = int(np.argmax(bad_rows))
        raise EmbeddingError(f"{name}[{i}] contains a non-finite (or out of float32 range) value")
    return matrix


def _row_similarities(matrix: FloatArray, t_unit: FloatArray, *, name: str) -> FloatArray:
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))
    sims: FloatArray = matrix @ t_unit
    lo, hi = _SAFE_NORM_RANGE
    edge = np.flatnonzero(~((norms > lo) & (norms < hi)))
    if edge.size:
        m64 = matrix[edge].astype(np.float64)
        n64 = np.linalg.norm(m64, axis=1)
        zero = np.flatnonzero(n64 == 0)
        if zero.size:
            raise EmbeddingError(f"{name}[{int(edge[zero[0]])}] is all zeros")
        sims[edge] = (m64 @ t_unit.astype(np.float64)) / n64
        norms[edge] = 1.0
    sims /= norms
    np.clip(sims, -1.0, 1.0, out=sims)
    return sims


def _top_k(
    idx: npt.NDArray[np.intp], vals: FloatArray, k: int
) -> tuple[npt.NDArray[np.intp], FloatArray]:
    """The k best, ties at the cut resolved by lower index; argpartition, no full sort."""
    cut = vals.size - k
    kth = vals[np.argpartition(vals, cut)[cut]]
    above = vals > kth
    tied = np.flatnonzero(vals == kth)[: k - int(above.sum())]  # idx is ascending
    keep = np.flatnonzero(above)
    keep = np.sort(np.concatenate([keep, tied]))
    return idx[keep], vals[keep]


def _check_threshold(threshold: object) -> None:
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.floating):
        raise InvalidThresholdError(f"threshold must be a number, got {threshold!r}")
    value = float(threshold)
    if not math.isfinite(value) or not -1.0 <= value <= 1.0:
        raise InvalidThresholdError(f"threshold must be a finite number in [-1, 1], got {value}")


def check_same_model(first: str | None, second: str | None) -> None:
    """``*_model`` tags (the ``embedding_model`` /analyze answered) guard against comparing
    vectors from different models, which gives meaningless scores; unnamed models pass."""
    if first is not None and second is not None and first != second:
        raise EmbeddingModelMismatchError(
            f"embeddings come from different models ({echo(first)} vs {echo(second)}) and are "
            "not comparable"
        )
