"""The base64 float32 wire form of /find_matches and /analyze."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from facereid.errors import EmbeddingError
from facereid.matching import similarity as matching
from facereid.matching import wire as embedding_wire


def _rows(n: int = 5, dim: int = 8) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((n, dim)).astype(np.float32)


def test_target_b64_round_trips_exactly() -> None:
    vec = _rows(1)[0]
    got = embedding_wire.resolve_target(None, embedding_wire.encode_embedding_b64(vec))
    assert isinstance(got, np.ndarray) and np.array_equal(got, vec)


def test_target_needs_exactly_one_form() -> None:
    with pytest.raises(EmbeddingError, match="or target_embedding_b64"):
        embedding_wire.resolve_target(None, None)
    with pytest.raises(EmbeddingError, match="not both"):
        embedding_wire.resolve_target([1.0], embedding_wire.encode_embedding_b64([1.0]))


def test_bad_base64_is_invalid_embedding() -> None:
    with pytest.raises(EmbeddingError) as err:
        embedding_wire.resolve_target(None, "not base64!!")
    assert err.value.code == "invalid_embedding"
    with pytest.raises(EmbeddingError):
        embedding_wire.resolve_rows(None, "@@@@", 8, max_rows=10)
    with pytest.raises(EmbeddingError):
        embedding_wire.resolve_rows(None, ["@@@@"], None, max_rows=10)


def test_rows_as_list_of_strings_and_as_blob_give_the_same_matrix() -> None:
    rows = _rows()
    listed, n1 = embedding_wire.resolve_rows(
        None, [embedding_wire.encode_embedding_b64(r) for r in rows], None, max_rows=10
    )
    blob, n2 = embedding_wire.resolve_rows(
        None, base64.b64encode(rows.astype("<f4").tobytes()).decode(), 8, max_rows=10
    )
    assert n1 == n2 == 5
    assert isinstance(listed, np.ndarray) and isinstance(blob, np.ndarray)
    assert np.array_equal(listed, rows) and np.array_equal(blob, rows)


def test_b64_matches_equal_float_matches() -> None:
    rows = _rows(50, 16)
    target = rows[3] + 0.1
    blob = base64.b64encode(rows.tobytes()).decode()
    decoded, _ = embedding_wire.resolve_rows(None, blob, 16, max_rows=100)
    as_floats = matching.find_matches(target, rows.tolist(), threshold=0.0)
    as_b64 = matching.find_matches(target, decoded, threshold=0.0)
    assert as_b64 == as_floats and as_b64[0][0] == 3


def test_blob_needs_dim_and_a_whole_number_of_rows() -> None:
    blob = base64.b64encode(_rows(2, 4).tobytes()).decode()
    with pytest.raises(EmbeddingError, match="needs dim"):
        embedding_wire.resolve_rows(None, blob, None, max_rows=10)
    with pytest.raises(EmbeddingError, match="multiple of dim"):
        embedding_wire.resolve_rows(None, blob, 3, max_rows=10)


def test_row_count_is_reported_for_the_limit() -> None:
    rows = _rows(12, 4)
    _, count = embedding_wire.resolve_rows(
        None, base64.b64encode(rows.tobytes()).decode(), 4, max_rows=10
    )
    assert count > 10
    _, count = embedding_wire.resolve_rows(
        None, [embedding_wire.encode_embedding_b64(r) for r in rows], None, max_rows=10
    )
    assert count == 12


def test_ragged_and_wrong_length_rows_are_rejected() -> None:
    a, b = (
        embedding_wire.encode_embedding_b64([1.0, 2.0]),
        embedding_wire.encode_embedding_b64([1.0]),
    )
    with pytest.raises(EmbeddingError, match=r"embeddings_b64\[1\]"):
        embedding_wire.resolve_rows(None, [a, b], None, max_rows=10)
    with pytest.raises(EmbeddingError, match="expected 2"):
        embedding_wire.resolve_rows(None, [b], 2, max_rows=10)


def test_float_rows_become_one_exact_matrix() -> None:
    rows = _rows(3, 4)
    matrix, count = embedding_wire.resolve_rows(rows.tolist(), None, None, max_rows=10)
    assert count == 3 and isinstance(matrix, np.ndarray)
    assert np.array_equal(np.asarray(matrix, np.float32), rows)


def test_ragged_or_oversized_float_rows_pass_through_for_their_own_errors() -> None:
    ragged = [[1.0, 2.0], [1.0]]
    assert embedding_wire.resolve_rows(ragged, None, None, max_rows=10) == (ragged, 2)
    many = [[1.0]] * 11
    assert embedding_wire.resolve_rows(many, None, None, max_rows=10) == (many, 11)
    with pytest.raises(EmbeddingError, match=r"embeddings\[1\] has 1 values"):
        matching.find_matches([1.0, 0.0], ragged, threshold=0.5)


def test_analyze_result_switches_to_base64() -> None:
    vec = _rows(1)[0]
    face = {"embedding": vec.tolist(), "bbox": [0, 0, 1, 1]}
    result = embedding_wire.use_base64_embeddings({**face, "faces": [dict(face)]})
    assert "embedding" not in result and "embedding" not in result["faces"][0]
    decoded = matching.decode_embedding_b64(result["embedding_b64"], 8)
    assert np.array_equal(decoded, vec)
    assert result["faces"][0]["embedding_b64"] == result["embedding_b64"]
