"""The face record's wire form, the one xywh conversion and the one ordering rule."""

from __future__ import annotations

import numpy as np

from facereid.faces.ordering import largest_first
from facereid.faces.records import DetectedFace, FaceRecord, xyxy_to_xywh
from facereid.wire.faces import FaceWire


def test_xyxy_to_xywh_rounds_once() -> None:
    assert xyxy_to_xywh([10.123, 20.0, 50.456, 80.0]) == [10.12, 20.0, 40.33, 60.0]
    assert xyxy_to_xywh(np.array([1, 2, 3, 5], np.float32), ndigits=0) == [1, 2, 2, 3]


def test_record_survives_the_wire_and_keeps_float32() -> None:
    detected = DetectedFace(
        bbox=np.array([1.5, 2.5, 11.5, 22.5], np.float32),
        score=np.float32(0.75),  # type: ignore[arg-type]  # engines hand numpy scalars
        kps=np.arange(10, dtype=np.float32).reshape(5, 2),
    )
    record = FaceRecord.from_detection(detected, np.array([0.6, 0.8], np.float64))
    back = FaceWire.model_validate(FaceWire.from_record(record).model_dump()).record()
    assert back.bbox == (1.5, 2.5, 11.5, 22.5) and isinstance(back.score, float)
    assert back.embedding.dtype == np.float32
    # points travel as N x 2 float64 arrays (pickle buffers, not lists of float objects)
    assert back.kps is not None and back.kps.dtype == np.float64 and back.kps.shape == (5, 2)
    assert back.kps.tolist() == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0], [8.0, 9.0]]
    assert back.landmarks_106 is None
    assert back.xywh() == [1.5, 2.5, 10.0, 20.0]
    twice = back.scaled(2.0, 3.0)
    assert twice.bbox == (3.0, 7.5, 23.0, 67.5)
    assert twice.kps is not None and twice.kps[1].tolist() == [4.0, 9.0]
    # a list of pairs (an older face service, a test fake) reads the same
    listed = FaceWire.model_validate(
        {**FaceWire.from_record(record).model_dump(), "kps": [[0, 1]] * 5}
    ).record()
    assert listed.kps is not None and listed.kps.shape == (5, 2)


def test_largest_first_then_score_then_input_order() -> None:
    boxes = [[0, 0, 10, 10], [0, 0, 30, 30], [5, 5, 15, 15], [0, 0, 10, 10]]
    scores = [0.5, 0.1, 0.9, 0.5]
    # 30x30 first; three 10x10 boxes: the best score, then input order for the tie.
    assert largest_first(boxes, scores, (100, 100)).tolist() == [1, 2, 0, 3]
    assert largest_first(np.zeros((0, 4)), [], (100, 100)).tolist() == []


def test_a_centred_smaller_face_does_not_outrank_a_larger_one() -> None:
    """InsightFace's prominence metric would pick the centred face; the rule does not."""
    corner, centred = [0, 0, 60, 60], [170, 170, 220, 220]  # image ~400 x 400
    assert largest_first([centred, corner], [0.99, 0.6], (400, 400)).tolist() == [1, 0]


def test_area_counts_only_inside_the_image() -> None:
    outside = [0, 120, 90, 200]  # 90 x 80 but wholly below a 100 x 100 image
    edge = [-20, -20, 30, 30]  # 50 x 50, of which 30 x 30 inside
    inside = [50, 50, 75, 75]  # 25 x 25
    assert largest_first([outside, inside, edge], [0.9] * 3, (100, 100, 3)).tolist() == [2, 1, 0]


# Each engine applies the rule: test_detection.py::test_select_faces_size_then_largest_first
# (InsightFace) and test_dlib_engine.py::test_t1_has_six_faces_largest_first_with_five_points.
