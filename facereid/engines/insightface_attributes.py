"""The InsightFace pack's attribute models: ``genderage.onnx`` (age, gender) and
``1k3d68.onnx`` (68 3-D points, hence pose), optional files of the pack, each run once per
batch of faces on insightface's box-centred crop; the math is ``facereid.faces.attributes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx

from facereid.config import Settings
from facereid.engines.pack_checks import mean_std, signature_error, square_input
from facereid.faces import alignment
from facereid.faces.attributes import (
    GENDERAGE_INPUT_SIZE,
    LANDMARK_3D_INPUT_SIZE,
    LANDMARK_3D_OUTPUTS,
    FaceAttributes,
    gender_age,
    landmarks_3d_to_image,
    pose_from_landmarks_3d,
)
from facereid.faces.onnx_batching import run_batch
from facereid.faces.onnx_runtime import InferenceSession
from facereid.faces.records import BGRImage, DetectedFace, ModelInfo

GENDERAGE_FILE = "genderage.onnx"
LANDMARK_3D_FILE = "1k3d68.onnx"

Model = tuple[InferenceSession, float, float]  # session, input mean, input std


class AttributeModels:
    """The pack's attribute models (each None where the pack has no such file)."""

    def __init__(self, pack_dir: Path, info: ModelInfo, settings: Settings, factory: Any) -> None:
        self._info = info
        threads = settings.ort_intra_op_threads
        self.genderage = self._optional(
            pack_dir, GENDERAGE_FILE, GENDERAGE_INPUT_SIZE, 3, factory, threads
        )
        self.landmarker_3d = self._optional(
            pack_dir,
            LANDMARK_3D_FILE,
            LANDMARK_3D_INPUT_SIZE,
            LANDMARK_3D_OUTPUTS,
            factory,
            threads,
        )

    def _optional(
        self, pack_dir: Path, name: str, size: int, width: int, factory: Any, threads: int
    ) -> Model | None:
        """An attribute model of the pack (session, mean, std), or None where the pack has
        none; a file of the wrong signature is refused."""
        path = pack_dir / name
        if not path.is_file():
            return None
        mean, std = mean_std(onnx.load(str(path)), 128.0)
        session = factory(path, intra_op_threads=threads)
        square_input(session, name, size)
        out = list(session.get_outputs()[0].shape)
        if len(session.get_outputs()) != 1 or out[-1] != width:
            raise signature_error(name, f"must output one [N, {width}], not {out}")
        return session, mean, std

    def attributes(
        self, images: Sequence[BGRImage], faces: Sequence[DetectedFace]
    ) -> list[FaceAttributes]:
        """Age and gender (``genderage.onnx``) and pose (``1k3d68.onnx``) per (image, face)
        pair, each model called once for all faces, as ``FaceAnalysis`` computes them."""
        source = f"insightface/{self._info.name}" + (" (synthetic)" if self._info.synthetic else "")
        if not faces:
            return []
        ages: list[tuple[int, str, float] | None] = [None] * len(faces)
        poses: list[Any] = [None] * len(faces)
        if self.genderage is not None:
            preds, _ = self._run_crops(self.genderage, images, faces, GENDERAGE_INPUT_SIZE)
            ages = [gender_age(p) for p in preds]
        if self.landmarker_3d is not None:
            preds, matrices = self._run_crops(
                self.landmarker_3d, images, faces, LANDMARK_3D_INPUT_SIZE
            )
            poses = [
                pose_from_landmarks_3d(landmarks_3d_to_image(p, m))
                for p, m in zip(preds, matrices, strict=True)
            ]
        missing = [
            f"the pack has no {name}"
            for name, model in (
                (GENDERAGE_FILE, self.genderage),
                (LANDMARK_3D_FILE, self.landmarker_3d),
            )
            if model is None
        ]
        reason = "; ".join(missing) or None
        return [
            FaceAttributes(
                source=source,
                age=None if ga is None else ga[0],
                gender=None if ga is None else ga[1],
                gender_probability=None if ga is None else round(ga[2], 6),
                pose=pose,
                reason=reason,
            )
            for ga, pose in zip(ages, poses, strict=True)
        ]

    @staticmethod
    def _run_crops(
        model: Model,
        images: Sequence[BGRImage],
        faces: Sequence[DetectedFace],
        size: int,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """insightface's attribute crop (box centre, side 1.5x its longer side) of every
        face, through ``model`` in one batch."""
        session, mean, std = model
        crops, matrices = zip(
            *(
                alignment.landmark_crop(img, f.bbox, size)
                for img, f in zip(images, faces, strict=True)
            ),
            strict=True,
        )
        blob = cv2.dnn.blobFromImages(
            list(crops), 1.0 / std, (size, size), (mean,) * 3, swapRB=True
        )
        return run_batch(session, blob)[0], list(matrices)
