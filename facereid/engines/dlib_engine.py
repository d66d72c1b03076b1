"""The offline fallback engine: dlib's HOG (or CNN mmod) detector, its 68-point shape
predictor and its 128-d ResNet face descriptor, with the real weights that the PyPI packages
``dlib-bin`` and ``face-recognition-models`` ship.

``face_recognition_models/__init__.py`` imports ``pkg_resources``, which current setuptools
no longer provides, so the package is located with ``importlib.util.find_spec`` and never
imported. Models load lazily, once; dlib calls are serialised with a lock because dlib's
detectors are not documented as thread-safe.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facereid.config import Settings
from facereid.errors import InvalidInputError, ModelNotAvailableError
from facereid.faces.attributes import FaceAttributes
from facereid.faces.ordering import largest_first
from facereid.faces.pose import pose_from_68
from facereid.faces.records import BGRImage, DetectedFace, FloatArray, ModelInfo

logger = logging.getLogger(__name__)

MODEL_NAME = "dlib_face_recognition_resnet_model_v1"
EMBEDDING_DIM = 128
SHAPE_68_FILE = "shape_predictor_68_face_landmarks.dat"
RECOGNITION_FILE = "dlib_face_recognition_resnet_model_v1.dat"
CNN_DETECTOR_FILE = "mmod_human_face_detector.dat"
# Detector margins are mapped to (0, 1) with a logistic: margin 0 (dlib's own threshold) is
# 0.5, so the default det_thresh of 0.5 keeps dlib's default behaviour. Monotone, not calibrated.
SCORE_SCALE = 2.0
AGE_GENDER_REASON = "age and gender: the dlib engine has no model for them"

# iBUG 68-point indices -> InsightFace's 5 points (image-left eye first, as ArcFace expects).
_LEFT_EYE = slice(36, 42)
_RIGHT_EYE = slice(42, 48)
_NOSE_TIP = 30
_MOUTH_LEFT = 48
_MOUTH_RIGHT = 54


def face_recognition_models_dir() -> Path:
    """The ``models/`` folder of the installed face-recognition-models package."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailableError(
            "the dlib engine needs the 'face-recognition-models' package (pip install it)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def margin_to_score(margin: float) -> float:
    return 1.0 / (1.0 + math.exp(-SCORE_SCALE * margin))


def score_to_margin(score: float) -> float:
    score = min(max(score, 1e-6), 1 - 1e-6)
    return math.log(score / (1.0 - score)) / SCORE_SCALE


class DlibEngine:
    """FaceEngine backed by dlib. Images are BGR uint8; dlib gets RGB copies."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._models: dict[str, Any] | None = None
        self._info = ModelInfo(
            engine="dlib", name=MODEL_NAME, source="package", embedding_dim=EMBEDDING_DIM
        )

    @property
    def model_info(self) -> ModelInfo:
        return self._info

    def load(self) -> None:
        """Load the models now (they otherwise load on first use)."""
        self._get_models()

    def detect(self, images: Sequence[BGRImage]) -> list[list[DetectedFace]]:
        models = self._get_models()
        results: list[list[DetectedFace]] = []
        for image in images:
            rgb = _to_rgb(image)
            with self._lock:
                found = self._detect_rects(models, rgb)
                faces = [self._describe(models, rgb, rect, margin) for rect, margin in found]
            min_side = self._settings.min_face_size
            kept = [f for f in faces if min(f.width, f.height) >= min_side]
            boxes = np.array([f.bbox for f in kept], np.float32).reshape(-1, 4)
            order = largest_first(boxes, [f.score for f in kept], image.shape)
            kept = [kept[int(i)] for i in order]  # the one ordering rule (facereid.faces.ordering)
            if len(kept) < len(faces):
                logger.debug("dropped %d faces under %d px", len(faces) - len(kept), min_side)
            results.append(kept[: self._settings.max_faces])
        return results

    def embed(self, images: Sequence[BGRImage], faces: Sequence[DetectedFace]) -> FloatArray:
        """One row per (image, face) pair; faces of the same image go through one batch call."""
        if len(images) != len(faces):
            raise InvalidInputError(f"embed got {len(images)} images but {len(faces)} faces")
        if not faces:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        import dlib

        models = self._get_models()
        groups: dict[int, list[int]] = {}  # the same image object -> one dlib call
        for i, image in enumerate(images):
            groups.setdefault(id(image), []).append(i)
        out = np.zeros((len(faces), EMBEDDING_DIM), dtype=np.float64)
        with self._lock:
            batch_images: list[np.ndarray] = []
            batch_shapes: list[Any] = []
            for rows in groups.values():
                rgb = _to_rgb(images[rows[0]])
                shapes = dlib.full_object_detections()
                for i in rows:
                    shapes.append(models["shape68"](rgb, _to_rect(faces[i].bbox)))
                batch_images.append(rgb)
                batch_shapes.append(shapes)
            descriptors = models["recognizer"].compute_face_descriptor(
                batch_images, batch_shapes, num_jitters=0, padding=0.25
            )
        for rows, per_image in zip(groups.values(), descriptors, strict=True):
            for i, descriptor in zip(rows, per_image, strict=True):
                out[i] = np.asarray(descriptor, dtype=np.float64)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        unit: FloatArray = (out / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit

    def attributes(
        self, images: Sequence[BGRImage], faces: Sequence[DetectedFace]
    ) -> list[FaceAttributes]:
        """Pose from the 68 points dlib's shape predictor found (``facereid.faces.pose``);
        age and gender null: dlib's models do not estimate them."""
        return [
            FaceAttributes(
                source="dlib/shape_predictor_68_face_landmarks+solvePnP",
                pose=None
                if face.landmarks_68 is None
                else pose_from_68(face.landmarks_68, image.shape[:2]),
                reason=AGE_GENDER_REASON,
            )
            for image, face in zip(images, faces, strict=True)
        ]

    def _get_models(self) -> dict[str, Any]:
        if self._models is None:
            with self._lock:
                if self._models is None:
                    self._models = self._load_models()
        return self._models

    def _load_models(self) -> dict[str, Any]:
        try:
            import dlib
        except ImportError as exc:
            raise ModelNotAvailableError("the dlib engine needs the 'dlib-bin' package") from exc
        folder = face_recognition_models_dir()
        files = [SHAPE_68_FILE, RECOGNITION_FILE]
        if self._settings.dlib_detector == "cnn":
            files.append(CNN_DETECTOR_FILE)
        missing = [name for name in files if not (folder / name).is_file()]
        if missing:
            raise ModelNotAvailableError(f"dlib model files missing in {folder}: {missing}")
        models: dict[str, Any] = {
            "shape68": dlib.shape_predictor(str(folder / SHAPE_68_FILE)),
            "recognizer": dlib.face_recognition_model_v1(str(folder / RECOGNITION_FILE)),
        }
        if self._settings.dlib_detector == "cnn":
            models["detector"] = dlib.cnn_face_detection_model_v1(str(folder / CNN_DETECTOR_FILE))
        else:
            models["detector"] = dlib.get_frontal_face_detector()
        logger.info(
            "dlib engine loaded (%s detector) from %s", self._settings.dlib_detector, folder
        )
        return models

    def _detect_rects(self, models: dict[str, Any], rgb: np.ndarray) -> list[tuple[Any, float]]:
        upsample = max(0, self._settings.dlib_upsample)
        min_margin = score_to_margin(self._settings.det_thresh)
        if self._settings.dlib_detector == "cnn":
            found = [(d.rect, float(d.confidence)) for d in models["detector"](rgb, upsample)]
            return [(rect, margin) for rect, margin in found if margin >= min_margin]
        rects, margins, _ = models["detector"].run(rgb, upsample, min_margin)
        return [(rect, float(m)) for rect, m in zip(rects, margins, strict=True)]

    def _describe(
        self, models: dict[str, Any], rgb: np.ndarray, rect: Any, margin: float
    ) -> DetectedFace:
        shape = models["shape68"](rgb, rect)
        pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
        kps = np.stack(
            [
                pts[_LEFT_EYE].mean(axis=0),
                pts[_RIGHT_EYE].mean(axis=0),
                pts[_NOSE_TIP],
                pts[_MOUTH_LEFT],
                pts[_MOUTH_RIGHT],
            ]
        ).astype(np.float32)
        # dlib rectangles are inclusive; x2/y2 are the exclusive pixel edge. Boxes may reach
        # past the image border, as InsightFace's do; the API clips for display if it wants.
        bbox = np.array(
            [rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1], dtype=np.float32
        )
        return DetectedFace(bbox=bbox, score=margin_to_score(margin), kps=kps, landmarks_68=pts)


def _to_rgb(image: BGRImage) -> np.ndarray:
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise InvalidInputError(
            f"expected a BGR uint8 image of shape (H, W, 3), got {arr.dtype} {arr.shape}"
        )
    return cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)


def _to_rect(bbox: FloatArray) -> Any:
    import dlib

    x1, y1, x2, y2 = (int(round(float(v))) for v in bbox)
    return dlib.rectangle(x1, y1, x2 - 1, y2 - 1)
