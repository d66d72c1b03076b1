"""SCRFD decode maths, with hand-computed expectations and insightface's own NMS."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from insightface.model_zoo.scrfd import SCRFD

from facereid.faces import detection


def test_letterbox_wide_image() -> None:
    img = np.full((100, 200, 3), 200, np.uint8)
    box = detection.letterbox(img, 64)
    assert box.image.shape == (64, 64, 3)
    assert box.scale == pytest.approx(32 / 100)
    assert (box.image[:32, :64] == 200).all()
    assert (box.image[32:] == 0).all()  # padding at the bottom


def test_letterbox_tall_image() -> None:
    img = np.full((200, 100, 3), 7, np.uint8)
    box = detection.letterbox(img, 64)
    assert box.scale == pytest.approx(64 / 200)
    assert (box.image[:, :32] == 7).all() and (box.image[:, 32:] == 0).all()


def test_anchor_centers_two_anchors_row_major() -> None:
    centers = detection.anchor_centers(2, 2, 8)
    assert centers.tolist() == [[0, 0], [0, 0], [8, 0], [8, 0], [0, 8], [0, 8], [8, 8], [8, 8]]
    assert detection.anchor_centers(2, 2, 8) is centers  # cached


def test_distance_decoding() -> None:
    points = np.array([[10.0, 20.0]], np.float32)
    box = detection.distance2bbox(points, np.array([[1, 2, 3, 4]], np.float32))
    assert box.tolist() == [[9, 18, 13, 24]]
    kps = detection.distance2kps(points, np.array([[1, -1, 0, 5, 2, 2, -3, 0, 0, 0]], np.float32))
    assert kps.tolist() == [[[11, 19], [10, 25], [12, 22], [7, 20], [10, 20]]]


def test_nms_hand_example() -> None:
    dets = np.array(
        [
            [0, 0, 9, 9, 0.9],
            [1, 1, 10, 10, 0.8],  # +1 areas: 81 / (100 + 100 - 81) = 0.68 -> suppressed
            [20, 20, 29, 29, 0.7],
            [5, 0, 14, 9, 0.95],  # overlap with the first: 50 / 150 = 0.33 -> both kept
        ],
        np.float32,
    )
    assert detection.nms(dets, 0.4) == [3, 0, 2]


def test_nms_matches_insightface_on_random_boxes() -> None:
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 200, (300, 2))
    wh = rng.uniform(10, 60, (300, 2))
    scores = rng.choice([0.5, 0.6, 0.7, 0.9], 300)  # ties exercise the stable order
    dets = np.hstack([xy, xy + wh, scores[:, None]]).astype(np.float32)
    reference = SCRFD.nms(SimpleNamespace(nms_thresh=0.4), dets)
    assert detection.nms(dets, 0.4) == [int(i) for i in reference]


def _outputs(input_size: int) -> list[np.ndarray]:
    rows = [(input_size // s) ** 2 * 2 for s in detection.STRIDES]
    scores = [np.zeros((r, 1), np.float32) for r in rows]
    boxes = [np.ones((r, 4), np.float32) for r in rows]
    kps = [np.zeros((r, 10), np.float32) for r in rows]
    return scores + boxes + kps


def test_decode_hand_example() -> None:
    outs = _outputs(32)  # stride 8: 4x4 locations, 32 rows
    outs[0][5] = 0.9  # location 2 (x=16, y=0), second anchor
    outs[3][5] = [1, 1, 2, 2]  # distances in strides
    outs[6][5] = [0.5, 0.5] * 5
    outs[2][0] = 0.6  # stride 32, location (0, 0)
    dets, kps = detection.decode(outs, 32, det_scale=0.5, threshold=0.5)
    np.testing.assert_allclose(
        dets[0], [(16 - 8) / 0.5, (0 - 8) / 0.5, (16 + 16) / 0.5, (0 + 16) / 0.5, 0.9]
    )
    np.testing.assert_allclose(kps[0], [[40, 8]] * 5)  # (16 + 4, 0 + 4) / 0.5
    np.testing.assert_allclose(dets[1], [-64, -64, 64, 64, 0.6], rtol=1e-6)
    assert dets.shape == (2, 5) and kps.shape == (2, 5, 2)


def test_decode_nothing_above_threshold() -> None:
    dets, kps = detection.decode(_outputs(32), 32, det_scale=1.0, threshold=0.5)
    assert dets.shape == (0, 5) and kps.shape == (0, 5, 2)


def test_select_faces_size_then_largest_first() -> None:
    dets = np.array(
        [
            [0, 0, 40, 40, 0.6],  # 1600 px^2: the largest
            [40, 40, 60, 60, 0.99],  # 400: best score, centred, but smaller
            [45, 10, 60, 25, 0.9],  # 15 px: below min size
            [70, 70, 95, 95, 0.7],  # 625
        ],
        np.float32,
    )
    kps = np.arange(4 * 10, dtype=np.float32).reshape(4, 5, 2)
    out, out_kps = detection.select_faces(
        dets, kps, (100, 100, 3), nms_thresh=0.4, min_size=20, max_faces=2
    )
    assert out[:, 4].tolist() == pytest.approx([0.6, 0.7])
    assert out_kps[0].tolist() == kps[0].tolist()
    everything, _ = detection.select_faces(
        dets, kps, (100, 100, 3), nms_thresh=0.4, min_size=0, max_faces=0
    )
    assert len(everything) == 4
