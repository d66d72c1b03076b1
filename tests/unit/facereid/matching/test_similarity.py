"""Matching: correctness against a naive loop, ordering, threshold edges, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from facereid import errors
from facereid.matching.similarity import (
    cosine_similarity,
    decode_embedding_b64,
    encode_embedding_b64,
    find_matches,
    l2_normalize,
    validate_embedding,
)


def _naive(target: np.ndarray, rows: np.ndarray, threshold: float) -> list[tuple[int, float]]:
    t = target.astype(np.float64)
    out = []
    for i, row in enumerate(rows.astype(np.float64)):
        sim = float(row @ t / (np.linalg.norm(row) * np.linalg.norm(t)))
        if sim >= threshold:
            out.append((i, sim))
    return sorted(out, key=lambda p: (-p[1], p[0]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_find_matches_agrees_with_naive_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = rng.standard_normal((500, 64)).astype(np.float32) * rng.uniform(0.01, 100, (500, 1))
    target = rows[7] + 0.3 * rng.standard_normal(64).astype(np.float32)
    got = find_matches(target, rows, threshold=0.05)
    want = _naive(target, rows, 0.05)
    # float32 scoring may differ from float64 in the last digits: only rows within 1e-5 of
    # the threshold may land on the other side of it.
    every = dict(_naive(target, rows, -1.0))
    borderline = {i for i, sim in every.items() if abs(sim - 0.05) < 1e-5}
    assert len(want) > 50 and {i for i, _ in got} ^ {i for i, _ in want} <= borderline
    assert all(abs(sim - every[i]) < 1e-5 for i, sim in got)
    assert got[0][0] == 7
    assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)


def test_find_matches_accepts_plain_lists_and_returns_python_types() -> None:
    got = find_matches([1.0, 0.0], [[0.0, 1.0], [2.0, 0.0], [1.0, 1.0]], threshold=0.5)
    assert [i for i, _ in got] == [1, 2]
    assert got[0] == (1, 1.0) and math.isclose(got[1][1], math.sqrt(0.5), rel_tol=1e-6)
    assert all(type(i) is int and type(s) is float for i, s in got)


def test_ties_keep_request_order_and_threshold_is_inclusive() -> None:
    e = np.eye(4, dtype=np.float32)
    rows = np.stack([e[1], e[0], e[2], e[0] * 3, e[0]])
    got = find_matches(e[0], rows, threshold=1.0)
    assert got == [(1, 1.0), (3, 1.0), (4, 1.0)]
    assert find_matches(e[0], rows, threshold=0.0) == [
        (1, 1.0),
        (3, 1.0),
        (4, 1.0),
        (0, 0.0),
        (2, 0.0),
    ]
    assert [i for i, _ in find_matches(e[0], -rows, threshold=-1.0)] == [0, 2, 1, 3, 4]


def test_top_k_takes_the_best_with_ties_cut_by_index() -> None:
    e = np.eye(3, dtype=np.float32)
    rows = np.stack([e[1], e[0], e[0] + e[1], e[0], e[0], e[2]])
    assert find_matches(e[0], rows, threshold=-1, top_k=2) == [(1, 1.0), (3, 1.0)]
    assert [i for i, _ in find_matches(e[0], rows, threshold=-1, top_k=4)] == [1, 3, 4, 2]
    assert len(find_matches(e[0], rows, threshold=-1, top_k=100)) == 6
    rng = np.random.default_rng(5)
    big = rng.standard_normal((2000, 32)).astype(np.float32)
    full = find_matches(big[0], big, threshold=-1)
    assert find_matches(big[0], big, threshold=-1, top_k=25) == full[:25]


def test_extreme_scales_are_scored_exactly() -> None:
    rows = np.array([[1e-30, 1e-30], [3e37, 3e37], [1.0, -1.0]], dtype=np.float32)
    got = dict(find_matches([1.0, 1.0], rows, threshold=-1))
    assert got[0] == pytest.approx(1.0) and got[1] == pytest.approx(1.0)
    assert got[2] == pytest.approx(0.0, abs=1e-7)


def test_empty_rows_give_no_matches() -> None:
    assert find_matches([1.0, 2.0], [], threshold=0.5) == []


@pytest.mark.parametrize(
    ("rows", "fragment"),
    [
        ([[1.0, 2.0], [1.0]], "embeddings[1] has 1 values"),
        ([[1.0, 2.0], [0.0, 0.0]], "embeddings[1] is all zeros"),
        ([[1.0, 2.0], [1.0, 2.0], [float("nan"), 1.0]], "embeddings[2]"),
        ([[1.0, 2.0], [float("inf"), 1.0]], "embeddings[1]"),
        ([[1.0, 2.0], [1e39, 1.0]], "embeddings[1]"),
        ([[1.0, 2.0], "ab"], "embeddings[1] must be a list"),
        ([[1.0, 2.0, 3.0]], "has 3 values"),
        (np.ones((2, 3), dtype=np.float32), "rows have 3 values"),
        (np.ones((2, 2, 2)), "shape"),
        ([["a", "b"]], "only numbers"),
    ],
)
def test_bad_rows_are_named(rows: object, fragment: str) -> None:
    with pytest.raises(errors.EmbeddingError, match=None) as info:
        find_matches([1.0, 2.0], rows, threshold=0.5)
    assert fragment in info.value.message and info.value.code == "invalid_embedding"


@pytest.mark.parametrize("threshold", [1.01, -1.5, float("nan"), float("inf"), "0.5", None, True])
def test_threshold_must_be_finite_in_range(threshold: object) -> None:
    with pytest.raises(errors.InvalidThresholdError) as info:
        find_matches([1.0], [[1.0]], threshold=threshold)  # type: ignore[arg-type]
    assert info.value.code == "invalid_threshold" and info.value.status == 422


@pytest.mark.parametrize("top_k", [0, -1, 1.5, True])
def test_top_k_must_be_positive_int(top_k: object) -> None:
    with pytest.raises(errors.InvalidInputError):
        find_matches([1.0], [[1.0]], threshold=0.0, top_k=top_k)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("vec", "fragment"),
    [
        ([], "is empty"),
        ([0.0, 0.0, 0.0], "all zeros"),
        ([1.0, float("nan")], "face1_embedding[1] is not a finite"),
        ([1.0, float("-inf")], "is not a finite"),
        ([1.0, 1e300], "is not a finite"),
        ("1,2,3", "must be a list of numbers"),
        (None, "must be a list of numbers"),
        ({"a": 1}, "must be a list of numbers"),
        ([[1.0, 2.0]], "flat list"),
        ([1.0, "x"], "only numbers"),
        ([[1.0], [1.0, 2.0]], "equal length"),
    ],
)
def test_validate_embedding_errors_name_the_field(vec: object, fragment: str) -> None:
    with pytest.raises(errors.EmbeddingError) as info:
        validate_embedding(vec, name="face1_embedding")
    assert fragment in info.value.message and "face1_embedding" in info.value.message


def test_validate_embedding_returns_float32_without_normalising() -> None:
    out = validate_embedding([3, 4], name="v")
    assert out.dtype == np.float32 and out.tolist() == [3.0, 4.0]
    assert l2_normalize(out).tolist() == pytest.approx([0.6, 0.8])


def test_cosine_similarity_values_and_length_mismatch() -> None:
    assert cosine_similarity([1, 0], [1, 0]) == pytest.approx(1.0)
    assert cosine_similarity([1, 0], [-2, 0]) == pytest.approx(-1.0)
    assert cosine_similarity([1, 0], [0, 5]) == pytest.approx(0.0)
    assert cosine_similarity([1, 1], [1, 0]) == pytest.approx(math.sqrt(0.5))
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal(512), rng.standard_normal(512)
    want = float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    assert cosine_similarity(a.tolist(), b.tolist()) == pytest.approx(want, abs=1e-6)
    with pytest.raises(
        errors.EmbeddingError, match="face1_embedding has 2 values but face2_embedding has 3"
    ):
        cosine_similarity([1, 0], [1, 0, 0])
    with pytest.raises(errors.EmbeddingError, match="face2_embedding is all zeros"):
        cosine_similarity([1, 0], [0, 0])


def test_embedding_b64_round_trip_and_errors() -> None:
    vec = np.random.default_rng(1).standard_normal(128).astype(np.float32)
    s = encode_embedding_b64(vec)
    assert len(s) == 4 * math.ceil(128 * 4 / 3) == 684
    assert np.array_equal(decode_embedding_b64(s, 128), vec)
    assert np.array_equal(decode_embedding_b64(s.rstrip("="), None), vec)
    assert encode_embedding_b64([1.0]) == "AACAPw=="  # little-endian float32 1.0
    for bad, fragment in [
        ("@@@@", "not valid base64"),
        ("AACAPw==", "expected 2"),
        ("AACA", "whole number"),
        (encode_embedding_b64([0.0, 0.0]), "all zeros"),
    ]:
        with pytest.raises(errors.EmbeddingError) as info:
            decode_embedding_b64(bad, 2 if fragment != "whole number" else None, name="emb")
        assert fragment in info.value.message


def test_model_tags_must_match_and_are_echoed_cut_short() -> None:
    from facereid.errors import EmbeddingModelMismatchError
    from facereid.matching.similarity import check_same_model

    check_same_model("dlib/x/128", "dlib/x/128")
    check_same_model(None, "dlib/x/128")  # an unnamed model passes
    with pytest.raises(EmbeddingModelMismatchError) as caught:
        check_same_model("a" * 100_000, "b\nforged log line")
    assert len(caught.value.message) < 300
    assert "\n" not in caught.value.message
