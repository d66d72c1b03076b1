"""Embedding size limits: MAX_EMBEDDING_DIM per vector, rows x dim per gallery (issue 12)."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from facereid.errors import EmbeddingTooLongError, TooManyRowsError
from facereid.matching.similarity import (
    decode_embedding_b64,
    encode_embedding_b64,
    validate_embedding,
)
from facereid.matching.wire import resolve_rows, resolve_target


def test_vector_longer_than_max_dim_is_refused_with_its_own_code() -> None:
    with pytest.raises(EmbeddingTooLongError) as caught:
        validate_embedding([0.5] * 4097, name="face1_embedding")
    assert caught.value.code == "embedding_too_long" and caught.value.status == 413
    assert "4097 values; the limit is 4096" in caught.value.message
    assert validate_embedding([0.5] * 4096, name="x").size == 4096
    with pytest.raises(EmbeddingTooLongError):
        validate_embedding([0.5] * 65, name="x", max_dim=64)


def test_numpy_input_is_checked_too() -> None:
    with pytest.raises(EmbeddingTooLongError):
        validate_embedding(np.ones(5000, np.float32), name="x")


def test_long_base64_is_refused_from_its_length_before_decoding() -> None:
    blob = encode_embedding_b64(np.ones(100_000, np.float32))
    with pytest.raises(EmbeddingTooLongError):
        decode_embedding_b64(blob, name="target_embedding_b64")
    with pytest.raises(EmbeddingTooLongError):
        resolve_target(None, blob)
    short = encode_embedding_b64(np.ones(512, np.float32))
    assert decode_embedding_b64(short).size == 512


def test_rows_times_dim_is_bounded_for_float_rows() -> None:
    rows = [[0.1] * 512 for _ in range(20)]
    with pytest.raises(TooManyRowsError, match="20 rows x 512 values = 10240"):
        resolve_rows(rows, None, None, max_rows=1000, max_values=10_000)
    matrix, count = resolve_rows(rows, None, None, max_rows=1000, max_values=10_240)
    assert count == 20


def test_wide_rows_are_refused() -> None:
    with pytest.raises(EmbeddingTooLongError):
        resolve_rows([[0.1] * 5000], None, None, max_rows=10)


def test_rows_times_dim_is_bounded_for_base64_rows_and_blobs() -> None:
    row = encode_embedding_b64(np.ones(512, np.float32))
    with pytest.raises(TooManyRowsError):
        resolve_rows(None, [row] * 20, None, max_rows=1000, max_values=10_000)
    blob = base64.b64encode(np.ones(20 * 512, "<f4").tobytes()).decode()
    with pytest.raises(TooManyRowsError, match="the limit is 10000 values"):
        resolve_rows(None, blob, 512, max_rows=1000, max_values=10_000)
    matrix, count = resolve_rows(None, blob, 512, max_rows=1000, max_values=20 * 512)
    assert count == 20


def test_blob_dim_over_max_is_refused() -> None:
    blob = base64.b64encode(np.ones(8192, "<f4").tobytes()).decode()
    with pytest.raises(EmbeddingTooLongError, match="dim has 8192 values"):
        resolve_rows(None, blob, 8192, max_rows=10)


def test_a_raised_limit_is_honoured_by_every_check() -> None:
    from facereid.matching.similarity import cosine_similarity, find_matches

    vec = [0.5] * 5000
    with pytest.raises(EmbeddingTooLongError):
        cosine_similarity(vec, vec)
    assert cosine_similarity(vec, vec, max_dim=8192) == pytest.approx(1.0)
    [(index, similarity)] = find_matches(vec, [vec], threshold=0.5, max_dim=8192)
    assert index == 0 and similarity == pytest.approx(1.0)
