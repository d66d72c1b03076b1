"""Each face-quality component on synthetic inputs, and the rule that combines them."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from facereid.faces.alignment import ARCFACE_TEMPLATE
from facereid.faces.quality import (
    FaceQuality,
    HeadPose,
    QualityComponents,
    detector_score,
    face_quality,
    pose_from_keypoints,
    pose_score,
    sharpness_score,
    size_score,
)

FRONTAL = ARCFACE_TEMPLATE.astype(np.float64) * 2 + 50  # a 224-px face at (50, 50)
BOX = (50.0, 50.0, 274.0, 274.0)


def _textured(seed: int = 0) -> np.ndarray:
    """A 324 x 324 picture with fine detail everywhere (what a sharp photo has)."""
    rng = np.random.default_rng(seed)
    grey = rng.integers(0, 256, (81, 81), dtype=np.uint8)
    grey = np.asarray(cv2.resize(grey, (324, 324), interpolation=cv2.INTER_NEAREST), np.uint8)
    return np.asarray(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), dtype=np.uint8)


def _turned(kps: np.ndarray, shift: float) -> np.ndarray:
    """The same points with the nose moved sideways by ``shift`` eye gaps (a yaw)."""
    out = kps.copy()
    out[2, 0] += shift * float(kps[1, 0] - kps[0, 0])
    return out


def test_a_sharp_crop_scores_high_and_its_blurred_copy_low() -> None:
    sharp = _textured()
    blurred = np.asarray(cv2.GaussianBlur(sharp, (0, 0), 6), np.uint8)
    good = face_quality(sharp, BOX, 0.99, FRONTAL)
    bad = face_quality(blurred, BOX, 0.99, FRONTAL)
    assert good.components.sharpness > 0.9
    assert bad.components.sharpness < 0.3
    assert bad.score == bad.components.sharpness  # the worst component sets the score
    assert list(bad.failing(0.5)) == ["sharpness"]


def test_a_flat_crop_has_no_sharpness() -> None:
    flat = np.full((324, 324, 3), 128, np.uint8)
    assert face_quality(flat, BOX, 0.99, FRONTAL).components.sharpness == 0.0


def test_sharpness_curve() -> None:
    assert sharpness_score(0.0) == 0.0
    assert sharpness_score(100.0) == pytest.approx(1 - math.exp(-1))
    assert sharpness_score(1e6) == 1.0
    assert sharpness_score(-5.0) == 0.0
    assert sharpness_score(20.0) < sharpness_score(50.0) < sharpness_score(200.0)


def test_size_saturates_at_112_pixels_of_the_short_side() -> None:
    assert size_score((0, 0, 224, 300)) == 1.0
    assert size_score((0, 0, 112, 500)) == 1.0
    assert size_score((10, 10, 66, 400)) == pytest.approx(0.5)  # 56 px wide
    assert size_score((0, 0, 28, 28)) == pytest.approx(0.25)
    assert size_score((5, 5, 5, 40)) == 0.0


def test_detector_score_is_the_engines_score_clipped() -> None:
    assert detector_score(0.73) == pytest.approx(0.73)
    assert detector_score(1.4) == 1.0
    assert detector_score(float("nan")) == 0.0


def test_a_frontal_face_has_no_yaw_or_pitch() -> None:
    pose = pose_from_keypoints(ARCFACE_TEMPLATE)
    assert abs(pose.yaw) < 2 and abs(pose.pitch) < 2
    assert pose_score(pose) == 1.0


def test_a_turned_nose_gives_yaw_of_its_side_and_lowers_the_pose() -> None:
    right = pose_from_keypoints(_turned(FRONTAL, 0.3))
    left = pose_from_keypoints(_turned(FRONTAL, -0.3))
    assert right.yaw > 20 and left.yaw < -20
    assert abs(right.pitch) < 5
    slight = pose_score(pose_from_keypoints(_turned(FRONTAL, 0.1)))
    strong = pose_score(right)
    profile = pose_score(pose_from_keypoints(_turned(FRONTAL, 0.9)))
    assert slight == 1.0 > strong > profile
    assert profile < 0.2


def test_a_rotated_face_is_still_frontal() -> None:
    """In-plane roll is not a pose problem: the alignment undoes it."""
    angle = math.radians(30)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    pose = pose_from_keypoints(FRONTAL @ rot.T)
    assert pose_score(pose) == 1.0


def test_a_lowered_nose_gives_pitch() -> None:
    down = FRONTAL.copy()
    down[2, 1] += 0.35 * float(FRONTAL[3, 1] - FRONTAL[0, 1])
    pose = pose_from_keypoints(down)
    assert pose.pitch > 15 and abs(pose.yaw) < 5
    assert pose_score(pose) < 1.0


def test_pose_score_takes_a_real_pose() -> None:
    assert pose_score(HeadPose(0, 0)) == 1.0
    assert pose_score(HeadPose(15, -15)) == 1.0
    assert pose_score(HeadPose(37.5, 0)) == pytest.approx(0.5)
    assert pose_score(HeadPose(0, -30)) == pytest.approx(0.5)
    assert pose_score(HeadPose(-90, 0)) == 0.0
    # a given pose replaces the keypoint estimate
    turned = face_quality(_textured(), BOX, 0.99, FRONTAL, pose=HeadPose(60, 0))
    assert turned.components.pose == 0.0


def test_a_turned_face_fails_on_pose_alone() -> None:
    quality = face_quality(_textured(), BOX, 0.99, _turned(FRONTAL, 0.6))
    assert list(quality.failing(0.5)) == ["pose"]


def test_a_tiny_face_fails_on_size() -> None:
    small = np.asarray(cv2.resize(_textured(), (81, 81), interpolation=cv2.INTER_AREA), np.uint8)
    kps = (FRONTAL - 50) / 4 + 12.5
    quality = face_quality(small, (12.5, 12.5, 68.5, 68.5), 0.99, kps)
    assert quality.components.size == pytest.approx(0.5)
    assert "size" in quality.failing(0.6)


def test_without_keypoints_there_is_no_crop_and_no_pose() -> None:
    quality = face_quality(_textured(), BOX, 0.9, None)
    assert quality.components.sharpness == 0.0 and quality.components.pose == 0.0
    assert quality.score == 0.0


def test_failing_lists_every_component_under_the_bar_worst_first() -> None:
    parts = QualityComponents(detector=0.4, size=0.9, sharpness=0.2, pose=0.45)
    quality = FaceQuality(score=0.2, components=parts)
    assert quality.failing(0.5) == {"sharpness": 0.2, "detector": 0.4, "pose": 0.45}
    assert quality.failing(0.2) == {}
