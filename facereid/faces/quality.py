"""One face-quality score in [0, 1] and the four components it is made of (docs/quality.md).

- ``detector``: the engine's detection score as it is (already 0..1 for both engines).
- ``size``: the box's short side in the pixels the model saw, ``side / SIZE_FULL_PX``
  capped at 1: at 112 px (the recogniser's aligned crop) no detail is lost any more.
- ``sharpness``: variance of the Laplacian of the aligned 112 x 112 grey crop, mapped by
  ``1 - exp(-variance / SHARPNESS_SCALE)``: 0 for a flat or blurred crop, near 1 for a crisp one.
- ``pose``: frontalness from yaw and pitch in degrees, 1 within ``POSE_FREE_DEG`` and falling
  linearly to 0 at ``YAW_LIMIT_DEG`` / ``PITCH_LIMIT_DEG``, with yaw and pitch estimated
  from the detector's five points (``pose_from_keypoints``) for every face: the attributes'
  pose exists only where an image asks for it, and the gate must not depend on that.

The score is the minimum of the components, so a face is as good as its worst part and the
components under a bar are exactly the ones that failed it (``failing``). Pure functions; the
face service computes it for every face (``facereid.engines.pipeline``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from facereid.faces.alignment import norm_crop

# as facereid.faces.records names them (that module imports this one's FaceQuality)
BGRImage = npt.NDArray[np.uint8]
Box = tuple[float, float, float, float]

SIZE_FULL_PX = 112.0
SHARPNESS_SCALE = 100.0  # Laplacian variance at which sharpness is 1 - 1/e (~0.63)
POSE_FREE_DEG = 15.0
YAW_LIMIT_DEG = 60.0
PITCH_LIMIT_DEG = 45.0
# the nose tip stands about 0.6 inter-ocular distances in front of the eyes' plane, and in
# the ArcFace template it sits 0.495 of the way from the eyes' midpoint to the mouth's
NOSE_DEPTH = 0.6
NOSE_ALONG_FRONTAL = 0.495
COMPONENTS = ("detector", "size", "sharpness", "pose")


class QualityComponents(BaseModel):
    """Each component in [0, 1]; the score is their minimum."""

    model_config = ConfigDict(frozen=True)

    detector: float = Field(ge=0, le=1, description="the detector's confidence")
    size: float = Field(ge=0, le=1, description="box short side / 112 px, capped at 1")
    sharpness: float = Field(ge=0, le=1, description="Laplacian variance of the aligned crop")
    pose: float = Field(ge=0, le=1, description="frontalness from yaw and pitch")


class FaceQuality(BaseModel):
    """A face's quality: ``score`` = min(components)."""

    model_config = ConfigDict(frozen=True)

    score: float = Field(ge=0, le=1, description="the minimum of the components")
    components: QualityComponents

    def failing(self, bar: float) -> dict[str, float]:
        """The components under ``bar``, worst first (what a refusal names)."""
        values = self.components.model_dump()
        low = {name: values[name] for name in COMPONENTS if values[name] < bar}
        return dict(sorted(low.items(), key=lambda item: item[1]))


@dataclass(frozen=True)
class HeadPose:
    """Yaw (left/right turn) and pitch (up/down) in degrees; 0, 0 is frontal. From
    ``pose_from_keypoints``: yaw > 0 when the nose points to the image's right, pitch > 0
    when it points down."""

    yaw: float
    pitch: float


def _unit(value: float) -> float:
    return float(min(1.0, max(0.0, value))) if math.isfinite(value) else 0.0


def detector_score(score: float) -> float:
    return _unit(score)


def size_score(bbox: Box) -> float:
    x1, y1, x2, y2 = bbox
    return _unit(min(x2 - x1, y2 - y1) / SIZE_FULL_PX)


def laplacian_variance(grey: npt.NDArray[np.uint8]) -> float:
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def sharpness_score(variance: float) -> float:
    return _unit(1.0 - math.exp(-max(0.0, variance) / SHARPNESS_SCALE))


def aligned_grey(image: BGRImage, kps: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """The recogniser's aligned 112 x 112 crop, in grey."""
    crop = norm_crop(image, kps, 112)
    return np.asarray(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), dtype=np.uint8)


def pose_from_keypoints(kps: npt.ArrayLike) -> HeadPose:
    """A rough yaw and pitch from five points (eyes, nose, mouth corners): the nose's offset
    across the eyes-to-mouth midline gives yaw, its place along it gives pitch, both over
    the nose's depth. An estimate, not a head-pose model: good to tell frontal from turned."""
    pts = np.asarray(kps, dtype=np.float64).reshape(5, 2)
    eyes = (pts[0] + pts[1]) / 2
    mouth = (pts[3] + pts[4]) / 2
    axis = mouth - eyes
    height = float(np.linalg.norm(axis))
    eye_gap = float(np.linalg.norm(pts[1] - pts[0]))
    scale = max(eye_gap, 0.5 * height, 1e-6)  # a profile's eyes close up; the height does not
    if height < 1e-6:
        return HeadPose(90.0, 90.0)
    along = axis / height
    across = np.array([along[1], -along[0]])  # upright: toward the image's right
    nose = pts[2] - eyes
    yaw_ratio = float(nose @ across) / scale
    pitch_ratio = (float(nose @ along) / height - NOSE_ALONG_FRONTAL) * height / scale
    return HeadPose(
        math.degrees(math.atan2(yaw_ratio, NOSE_DEPTH)),
        math.degrees(math.atan2(pitch_ratio, NOSE_DEPTH)),
    )


def pose_score(pose: HeadPose) -> float:
    def axis(angle: float, limit: float) -> float:
        return _unit(1.0 - (abs(angle) - POSE_FREE_DEG) / (limit - POSE_FREE_DEG))

    return min(axis(pose.yaw, YAW_LIMIT_DEG), axis(pose.pitch, PITCH_LIMIT_DEG))


def face_quality(
    image: BGRImage,
    bbox: Box,
    score: float,
    kps: npt.ArrayLike | None,
    pose: HeadPose | None = None,
) -> FaceQuality:
    """The quality of one face in ``image`` (the pixels the model saw). Without keypoints
    there is no aligned crop and no pose: both components are 0."""
    sharp = pose_part = 0.0
    if kps is not None:
        sharp = sharpness_score(laplacian_variance(aligned_grey(image, kps)))
        pose_part = pose_score(pose if pose is not None else pose_from_keypoints(kps))
    parts = QualityComponents(
        detector=round(detector_score(score), 4),
        size=round(size_score(bbox), 4),
        sharpness=round(sharp, 4),
        pose=round(pose_part, 4),
    )
    return FaceQuality(score=min(parts.model_dump().values()), components=parts)
