"""Head pose from 2-D landmarks for engines without a 3-D landmark model (dlib): the six
classic iBUG-68 points (nose tip, chin, outer eye corners, mouth corners) fitted to a generic
3-D face by ``cv2.solvePnP``, with a pinhole camera whose focal length is the image width.

A generic face and a guessed camera make this an estimate: good to a few degrees for the
sign and rough size of yaw/pitch (a frontal face reads near 0, a turned one tens of degrees),
not for fine measurement. The angles follow the same axes as the InsightFace engine's
(``facereid.faces.attributes.matrix_to_angles``): pitch about x, yaw about y, roll about z.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from facereid.faces.attributes import Pose, matrix_to_angles

# iBUG-68 indices and a generic face in millimetre-like units (x right, y up, z toward the
# camera), the model popularised by OpenCV head-pose tutorials.
POINTS_68 = (30, 8, 36, 45, 48, 54)
MODEL_3D = np.array(
    [
        (0.0, 0.0, 0.0),  # nose tip
        (0.0, -330.0, -65.0),  # chin
        (-225.0, 170.0, -135.0),  # outer corner of the image-left eye
        (225.0, 170.0, -135.0),  # outer corner of the image-right eye
        (-150.0, -150.0, -125.0),  # image-left mouth corner
        (150.0, -150.0, -125.0),  # image-right mouth corner
    ],
    dtype=np.float64,
)


def pose_from_68(points: npt.ArrayLike, image_size: tuple[int, int]) -> Pose | None:
    """Pose of a face from its 68 landmarks (pixels) in an image of ``(height, width)``;
    None where ``solvePnP`` finds no solution."""
    pts = np.asarray(points, dtype=np.float64).reshape(68, 2)[list(POINTS_68)]
    height, width = image_size
    camera = np.array(
        [[width, 0.0, width / 2.0], [0.0, width, height / 2.0], [0.0, 0.0, 1.0]], np.float64
    )
    # the model's y is up and the image's down: flip the model so the rotation is near I
    model = MODEL_3D * np.array([1.0, -1.0, -1.0])
    # start from a frontal face at the distance its eye span implies: without a guess the
    # iterative solver can settle on the mirror solution, a face upside down (roll ~180)
    eye_span = max(float(np.linalg.norm(pts[3] - pts[2])), 1.0)
    distance = width * 450.0 / eye_span
    rvec = np.zeros((3, 1))
    tvec = np.array(
        [
            [(pts[0, 0] - width / 2) * distance / width],
            [(pts[0, 1] - height / 2) * distance / width],
            [distance],
        ]
    )
    ok, solved, _ = cv2.solvePnP(
        model, pts, camera, np.zeros(4), rvec, tvec, True, flags=cv2.SOLVEPNP_ITERATIVE
    )
    if not ok:
        return None
    rotation, _ = cv2.Rodrigues(np.asarray(solved, np.float64))
    pitch, yaw, roll = matrix_to_angles(np.asarray(rotation, np.float64))
    return Pose(round(pitch, 2), round(yaw, 2), round(roll, 2))
