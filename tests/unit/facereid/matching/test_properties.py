"""Property tests (Hypothesis) for embedding intake: lists and base64 of random lengths and
values fail only with our FaceReIDError codes, and what passes is within the limits
(issue 12)."""

from __future__ import annotations

import base64

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facereid.errors import FaceReIDError
from facereid.matching.similarity import (
    cosine_similarity,
    decode_embedding_b64,
    find_matches,
    validate_embedding,
)
from facereid.matching.wire import resolve_rows, resolve_target

MAX_DIM = 64
PROFILE = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1e3, 1e3),
    st.integers(-(2**70), 2**70),
    st.booleans(),
)
anything = st.recursive(
    st.one_of(st.none(), numbers, st.text(max_size=5)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=20,
)
vectors = st.lists(numbers, max_size=MAX_DIM + 8)
b64_text = st.one_of(
    st.text(max_size=400),
    st.binary(max_size=(MAX_DIM + 4) * 4).map(lambda b: base64.b64encode(b).decode()),
    st.binary(max_size=300).map(lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")),
)


@PROFILE
@given(st.one_of(vectors, anything))
def test_validate_embedding_accepts_only_bounded_finite_vectors(value: object) -> None:
    try:
        out = validate_embedding(value, name="v", max_dim=MAX_DIM)
    except FaceReIDError:
        return
    assert out.dtype == np.float32 and out.ndim == 1 and 1 <= out.size <= MAX_DIM
    assert np.isfinite(out).all() and out.any()


@PROFILE
@given(st.one_of(vectors, anything), st.one_of(vectors, anything))
def test_cosine_similarity_is_in_range_or_our_error(a: object, b: object) -> None:
    try:
        sim = cosine_similarity(a, b)
    except FaceReIDError:
        return
    assert -1.0 <= sim <= 1.0


@PROFILE
@given(b64_text, st.one_of(st.none(), st.integers(-3, MAX_DIM + 3)))
def test_base64_embeddings_fail_only_with_our_codes(text: str, dim: int | None) -> None:
    try:
        out = decode_embedding_b64(text, dim, max_dim=MAX_DIM)
    except FaceReIDError:
        return
    assert 1 <= out.size <= MAX_DIM and np.isfinite(out).all()
    try:
        resolve_target(None, text, max_dim=MAX_DIM)
    except FaceReIDError:
        pass


@PROFILE
@given(
    st.one_of(st.none(), st.lists(vectors, max_size=6), st.lists(anything, max_size=3)),
    st.one_of(st.none(), st.lists(b64_text, max_size=6), b64_text),
    st.one_of(st.none(), st.integers(-2, MAX_DIM + 2)),
    st.one_of(vectors, anything),
    st.floats(-2, 2),
)
def test_find_matches_intake_fails_only_with_our_codes(
    floats: object, b64: object, dim: int | None, target: object, threshold: float
) -> None:
    try:
        rows, count = resolve_rows(
            floats,  # type: ignore[arg-type]
            b64,  # type: ignore[arg-type]
            dim,
            max_rows=5,
            max_dim=MAX_DIM,
            max_values=200,
        )
        matches = find_matches(target, rows, threshold=threshold)
    except FaceReIDError:
        return
    assert count <= 5 or matches == []
    assert all(0 <= i < count and -1.0 <= s <= 1.0 for i, s in matches)
