"""Alignment maths against hand values and insightface's face_align (skimage)."""

from __future__ import annotations

import numpy as np
import pytest
from insightface.utils import face_align
from skimage.transform import SimilarityTransform

from facereid.faces import alignment

# skimage 0.26 deprecates SimilarityTransform.estimate, which insightface still calls
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")

TEMPLATE = alignment.ARCFACE_TEMPLATE.astype(np.float64)


def test_template_maps_to_itself() -> None:
    np.testing.assert_allclose(alignment.estimate_norm(TEMPLATE), [[1, 0, 0], [0, 1, 0]], atol=1e-9)


def test_scaled_shifted_template() -> None:
    kps = TEMPLATE * 2 + [10, 20]
    np.testing.assert_allclose(
        alignment.estimate_norm(kps), [[0.5, 0, -5], [0, 0.5, -10]], atol=1e-9
    )


def test_rotated_template() -> None:
    c, s = np.cos(np.pi / 2), np.sin(np.pi / 2)
    kps = TEMPLATE @ np.array([[c, -s], [s, c]]).T  # rotate by +90 degrees
    m = alignment.estimate_norm(kps)
    np.testing.assert_allclose(m[:, :2], [[0, 1], [-1, 0]], atol=1e-9)
    np.testing.assert_allclose(m[:, :2] @ kps.T + m[:, 2:], TEMPLATE.T, atol=1e-9)


def test_image_size_128_shifts_by_8() -> None:
    m = alignment.estimate_norm(TEMPLATE, image_size=128)
    np.testing.assert_allclose(m, [[1, 0, 8], [0, 1, 0]], atol=1e-9)  # ratio 128/128, +8 px


def test_umeyama_matches_skimage() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        src = rng.uniform(0, 300, (5, 2)).astype(np.float32)
        tform = SimilarityTransform()  # type: ignore[no-untyped-call]
        tform.estimate(src, TEMPLATE.astype(np.float32))
        np.testing.assert_allclose(
            alignment.umeyama_similarity(src, TEMPLATE), tform.params, rtol=1e-5, atol=1e-5
        )


def test_norm_crop_matches_insightface() -> None:
    rng = np.random.default_rng(1)
    img = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
    kps = (TEMPLATE * 1.7 + [60, 30]).astype(np.float32)
    ours = alignment.norm_crop(img, kps)
    theirs = face_align.norm_crop(img, landmark=kps, image_size=112)
    assert ours.shape == (112, 112, 3)
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1


def test_bad_keypoints_are_rejected() -> None:
    with pytest.raises(ValueError, match="5x2"):
        alignment.estimate_norm(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="degenerate"):
        alignment.estimate_norm(np.ones((5, 2)))
    with pytest.raises(ValueError, match="multiple"):
        alignment.estimate_norm(TEMPLATE, image_size=100)


def test_landmark_crop_matrix_hand_example() -> None:
    # w=40, h=80, centre (30, 60), scale 192 / (80 * 1.5) = 1.6
    m = alignment.landmark_crop_matrix([10, 20, 50, 100])
    np.testing.assert_allclose(m, [[1.6, 0, 96 - 48], [0, 1.6, 96 - 96]])
    _, theirs = face_align.transform(np.zeros((10, 10, 3), np.uint8), (30, 60), 192, 1.6, 0)
    np.testing.assert_allclose(m, theirs, atol=1e-9)


def test_landmarks_back_to_image() -> None:
    m = alignment.landmark_crop_matrix([10, 20, 50, 100])
    pred = np.zeros(212, np.float32)
    pred[2:4] = [1.0, -1.0]  # the crop's top-right corner
    pts = alignment.landmarks_to_image(pred, m)
    assert pts.shape == (106, 2)
    np.testing.assert_allclose(pts[0], [30, 60], atol=1e-4)  # crop centre -> box centre
    np.testing.assert_allclose(pts[1], [30 + 96 / 1.6, 60 - 96 / 1.6], atol=1e-4)
