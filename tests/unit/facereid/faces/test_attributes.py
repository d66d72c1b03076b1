"""The attribute math: insightface's genderage reading, its 3-D landmark mapping and pose,
and the solvePnP pose of the dlib engine on a known rotation."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from facereid.faces.attributes import (
    gender_age,
    landmarks_3d_to_image,
    matrix_to_angles,
    mean_shape_68,
    pose_from_landmarks_3d,
)
from facereid.faces.pose import MODEL_3D, POINTS_68, pose_from_68


def rotation(pitch: float, yaw: float, roll: float) -> np.ndarray:
    rx, ry, rz = (math.radians(a) for a in (pitch, yaw, roll))
    x = np.array([[1, 0, 0], [0, math.cos(rx), -math.sin(rx)], [0, math.sin(rx), math.cos(rx)]])
    y = np.array([[math.cos(ry), 0, math.sin(ry)], [0, 1, 0], [-math.sin(ry), 0, math.cos(ry)]])
    z = np.array([[math.cos(rz), -math.sin(rz), 0], [math.sin(rz), math.cos(rz), 0], [0, 0, 1]])
    return np.asarray(z @ y @ x, dtype=np.float64)


def test_gender_age_reads_logits_and_scaled_age() -> None:
    age, gender, prob = gender_age([0.2, 1.2, 0.347])
    assert (age, gender) == (35, "male")
    assert prob == pytest.approx(1 / (1 + math.exp(-1.0)))
    age, gender, prob = gender_age([3.0, -1.0, 0.06])
    assert (age, gender) == (6, "female") and prob > 0.98
    with pytest.raises(ValueError):
        gender_age([1.0, 2.0])


def test_matrix_to_angles_inverts_a_known_rotation() -> None:
    np.testing.assert_allclose(matrix_to_angles(rotation(10, -25, 5)), (10, -25, 5), atol=1e-9)


def test_pose_from_rotated_mean_shape() -> None:
    """The mean shape rotated, scaled and moved reads back as that rotation (what
    insightface's least-squares affine recovers exactly for a rigid motion)."""
    shape = mean_shape_68().astype(np.float64)
    moved = 1.7 * shape @ rotation(12, -30, 8).T + np.array([300.0, 200.0, 5.0])
    pose = pose_from_landmarks_3d(moved)
    np.testing.assert_allclose([pose.pitch, pose.yaw, pose.roll], (12, -30, 8), atol=1e-3)


def test_landmarks_3d_to_image_undoes_the_crop() -> None:
    matrix = np.array([[0.5, 0.0, 10.0], [0.0, 0.5, -4.0]])
    row = np.zeros((1103, 3), np.float32)
    row[-68:] = [0.5, -0.5, 0.25]  # crop units
    pts = landmarks_3d_to_image(row.reshape(-1), matrix)
    assert pts.shape == (68, 3)
    # x: (0.5 + 1) * 96 = 144 in the crop -> (144 - 10) / 0.5 = 268 in the image
    np.testing.assert_allclose(pts[0], [268.0, (48.0 + 4.0) / 0.5, 0.25 * 96 / 0.5], rtol=1e-6)


@pytest.mark.parametrize("angles", [(0, 0, 0), (5, 30, 0), (-10, -20, 6)])
def test_pnp_pose_reads_back_a_projected_rotation(angles: tuple[int, int, int]) -> None:
    width, height = 800, 600
    camera = np.array([[width, 0, width / 2], [0, width, height / 2], [0, 0, 1]], np.float64)
    model = MODEL_3D * np.array([1.0, -1.0, -1.0])
    rvec, _ = cv2.Rodrigues(rotation(*angles))
    projected, _ = cv2.projectPoints(model, rvec, np.array([0.0, 0.0, 3000.0]), camera, np.zeros(4))
    points = np.zeros((68, 2))
    points[list(POINTS_68)] = projected.reshape(-1, 2) + [0.0, 0.0]
    pose = pose_from_68(points, (height, width))
    assert pose is not None
    np.testing.assert_allclose([pose.pitch, pose.yaw, pose.roll], angles, atol=0.5)
