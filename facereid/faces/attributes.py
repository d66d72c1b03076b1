"""Face attributes (issue 24): age, gender and head pose, typed as they cross the face
service's boundary, and the math that turns the InsightFace pack's ``genderage`` and
``1k3d68`` outputs into them exactly as insightface's ``FaceAnalysis`` does
(``model_zoo/attribute.py``, ``model_zoo/landmark.py``, ``utils/transform.py``).

The dlib engine's pose is in ``facereid.faces.pose``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import numpy.typing as npt

GENDERAGE_INPUT_SIZE = 96
LANDMARK_3D_INPUT_SIZE = 192
LANDMARK_3D_OUTPUTS = 3309  # 1103 x 3; the last 68 points are the landmarks


@dataclass(frozen=True)
class Pose:
    """Head pose in degrees: pitch (nodding), yaw (turning left/right), roll (tilt)."""

    pitch: float
    yaw: float
    roll: float


@dataclass(frozen=True)
class FaceAttributes:
    """What a face's attributes are, and why a part is missing.

    ``gender`` is "male" or "female" with the probability of that answer (a softmax over the
    model's two logits); ``source`` names what computed them; ``reason`` says why a field is
    null (never an invented value)."""

    source: str
    age: int | None = None
    gender: str | None = None
    gender_probability: float | None = None
    pose: Pose | None = None
    reason: str | None = None


def gender_age(pred: npt.ArrayLike) -> tuple[int, str, float]:
    """One genderage output row ``[female_logit, male_logit, age / 100]`` as insightface
    reads it (``argmax`` of the logits, 1 = male; ``round(age * 100)``), plus the softmax
    probability of the chosen gender."""
    row = np.asarray(pred, dtype=np.float64).reshape(-1)
    if row.shape != (3,):
        raise ValueError(f"expected 3 genderage outputs, got {row.shape}")
    index = int(np.argmax(row[:2]))
    logits = row[:2] - row[:2].max()
    probs = np.exp(logits) / np.exp(logits).sum()
    return int(np.round(row[2] * 100)), ("male" if index == 1 else "female"), float(probs[index])


def landmarks_3d_to_image(pred: npt.ArrayLike, matrix: npt.NDArray[np.float64]) -> np.ndarray:
    """A 1k3d68 output row to 68 x 3 points in image pixels (``Landmark.get``): the last 68
    of its 1103 points, x/y from [-1, 1] crop units through the inverse crop, z scaled by the
    crop's scale."""
    size = LANDMARK_3D_INPUT_SIZE
    pts = np.asarray(pred, dtype=np.float32).reshape(-1, 3)[-68:].copy()
    pts[:, 0:2] += 1
    pts[:, 0:2] *= size // 2
    pts[:, 2] *= size // 2
    inverse = cv2.invertAffineTransform(matrix)
    scale = math.sqrt(inverse[0][0] ** 2 + inverse[0][1] ** 2)
    out = np.empty_like(pts)
    out[:, 0:2] = pts[:, 0:2] @ inverse[:, :2].T + inverse[:, 2]
    out[:, 2] = pts[:, 2] * scale
    return out.astype(np.float32)


@lru_cache(maxsize=1)
def mean_shape_68() -> np.ndarray:
    """insightface's ``meanshape_68.pkl`` (68 x 3), shipped inside the insightface package."""
    import pickle
    from importlib.resources import files

    data = files("insightface").joinpath("data/objects/meanshape_68.pkl").read_bytes()
    return np.asarray(pickle.loads(data), dtype=np.float32)  # noqa: S301 - the package's own file


def pose_from_landmarks_3d(points: npt.ArrayLike, mean_shape: np.ndarray | None = None) -> Pose:
    """insightface's pose: the least-squares affine from the mean shape to the 68 points
    (``estimate_affine_matrix_3d23d``), its rotation (``P2sRt``), Euler angles
    (``matrix2angle``)."""
    reference = mean_shape_68() if mean_shape is None else mean_shape
    target = np.asarray(points)
    homo = np.hstack((reference, np.ones([reference.shape[0], 1])))
    affine = np.linalg.lstsq(homo, target, rcond=None)[0].T
    r1 = affine[0:1, :3] / np.linalg.norm(affine[0:1, :3])
    r2 = affine[1:2, :3] / np.linalg.norm(affine[1:2, :3])
    rotation = np.concatenate((r1, r2, np.cross(r1, r2)), 0)
    return Pose(*(round(float(np.float32(a)), 4) for a in matrix_to_angles(rotation)))


def matrix_to_angles(rotation: npt.NDArray[np.float64]) -> tuple[float, float, float]:
    """Pitch, yaw, roll in degrees of a rotation matrix (insightface's ``matrix2angle``)."""
    r = rotation
    sy = math.sqrt(r[0, 0] ** 2 + r[1, 0] ** 2)
    if sy >= 1e-6:
        x, y, z = (
            math.atan2(r[2, 1], r[2, 2]),
            math.atan2(-r[2, 0], sy),
            math.atan2(r[1, 0], r[0, 0]),
        )
    else:
        x, y, z = math.atan2(-r[1, 2], r[1, 1]), math.atan2(-r[2, 0], sy), 0.0
    return x * 180 / math.pi, y * 180 / math.pi, z * 180 / math.pi
