"""InsightFace pack on ONNX Runtime: batched SCRFD detection, ArcFace embeddings, 2d106 points.

One detector call per batch of images (the detector graph is edited to keep a batch axis),
one landmark call for all faces, one recogniser call for all faces. Sessions come from a
factory so tests can hand in fakes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import onnx

from facereid.config import Settings
from facereid.engines.insightface_attributes import AttributeModels
from facereid.engines.pack_checks import REMEDY, mean_std, signature_error, square_input
from facereid.errors import ModelNotAvailableError
from facereid.faces import alignment, detection
from facereid.faces.attributes import FaceAttributes
from facereid.faces.onnx_batching import batching_is_exact, make_detector_batchable, run_batch
from facereid.faces.onnx_runtime import InferenceSession, create_session
from facereid.faces.records import BGRImage, DetectedFace, FloatArray, ModelInfo

logger = logging.getLogger(__name__)

DETECTOR_FILE = "det_10g.onnx"
RECOGNIZER_FILE = "w600k_r50.onnx"
LANDMARK_FILE = "2d106det.onnx"
DET_MEAN, DET_STD = 127.5, 128.0
# Other packs name their files differently (buffalo_s: det_500m, w600k_mbf; antelopev2:
# scrfd_10g_bnkps, glintr100); used only when the named file is absent.
FALLBACK_PATTERNS = {
    DETECTOR_FILE: ("det_*.onnx", "scrfd*.onnx"),
    RECOGNIZER_FILE: ("w600k_*.onnx", "glintr*.onnx"),
    LANDMARK_FILE: ("2d106*.onnx",),
}


SessionFactory = Callable[..., InferenceSession]


def _find(pack_dir: Path, name: str) -> Path | None:
    """``pack_dir / name``, else the first file matching that role's fallback patterns."""
    if (pack_dir / name).is_file():
        return pack_dir / name
    for pattern in FALLBACK_PATTERNS.get(name, ()):
        matches = sorted(pack_dir.glob(pattern))
        if matches:
            logger.info("%s not in %s; using %s", name, pack_dir, matches[0].name)
            return matches[0]
    return None


class InsightFaceEngine:
    """The :class:`~facereid.engines.base.FaceEngine` for InsightFace packs."""

    def __init__(
        self,
        pack_dir: Path,
        model_info: ModelInfo,
        settings: Settings,
        session_factory: SessionFactory = create_session,
        *,
        detector_file: str = DETECTOR_FILE,
        recognizer_file: str = RECOGNIZER_FILE,
        landmark_file: str | None = LANDMARK_FILE,
        verify_batching: bool = True,
    ) -> None:
        self._info = model_info
        self._settings = settings
        pack_dir = Path(pack_dir)
        threads = settings.ort_intra_op_threads

        det_path = self._require(pack_dir, detector_file)
        detector_file = det_path.name
        det_model = onnx.load(str(det_path))
        try:
            det_bytes = make_detector_batchable(det_model).SerializeToString()
        except ValueError as exc:
            raise signature_error(detector_file, f"is not an SCRFD detector ({exc})") from exc
        self._detector = session_factory(det_bytes, intra_op_threads=threads)
        self._check_detector(detector_file)
        self._det_batches = not verify_batching or batching_is_exact(self._detector)
        if not self._det_batches:
            logger.warning("%s does not batch exactly; running one image per call", detector_file)

        rec_path = self._require(pack_dir, recognizer_file)
        recognizer_file = rec_path.name
        self._rec_mean, self._rec_std = mean_std(onnx.load(str(rec_path)), 127.5)
        self._recognizer = session_factory(rec_path, intra_op_threads=threads)
        self._rec_size = square_input(self._recognizer, recognizer_file)
        out_shape = list(self._recognizer.get_outputs()[0].shape)
        if len(self._recognizer.get_outputs()) != 1 or out_shape[-1] != model_info.embedding_dim:
            raise signature_error(
                recognizer_file,
                f"must output one [N, {model_info.embedding_dim}] embedding, not {out_shape}",
            )

        self._landmarker: InferenceSession | None = None
        lmk_path = _find(pack_dir, landmark_file) if landmark_file else None
        if lmk_path is not None:
            self._lmk_mean, self._lmk_std = mean_std(onnx.load(str(lmk_path)), 128.0)
            self._landmarker = session_factory(lmk_path, intra_op_threads=threads)
            square_input(self._landmarker, lmk_path.name, alignment.LANDMARK_INPUT_SIZE)
            lmk_out = list(self._landmarker.get_outputs()[0].shape)
            if lmk_out[-1] != 212:
                raise signature_error(lmk_path.name, f"must output [N, 212], not {lmk_out}")
        self.attribute_models = AttributeModels(pack_dir, model_info, settings, session_factory)
        logger.info(
            "InsightFace engine ready: %s (landmarks_106=%s, genderage=%s, 1k3d68=%s)",
            model_info.embedding_id,
            self._landmarker is not None,
            self.attribute_models.genderage is not None,
            self.attribute_models.landmarker_3d is not None,
        )

    @staticmethod
    def _require(pack_dir: Path, name: str) -> Path:
        path = _find(pack_dir, name)
        if path is None:
            raise ModelNotAvailableError(f"{pack_dir / name} is missing; {REMEDY}.")
        return path

    def _check_detector(self, file: str) -> None:
        inputs = self._detector.get_inputs()
        shape = list(inputs[0].shape) if len(inputs) == 1 else []
        if len(shape) != 4 or shape[1] != 3:
            raise signature_error(file, f"must take one [1, 3, H, W] image input, not {shape}")
        size = self._settings.det_size
        if any(isinstance(d, int) and d != size for d in shape[2:]):
            raise signature_error(file, f"has a fixed input {shape[2:]}, not DET_SIZE={size}")
        outputs = self._detector.get_outputs()
        widths = [list(o.shape)[-1] for o in outputs]
        if widths != [1, 1, 1, 4, 4, 4, 10, 10, 10]:
            raise signature_error(
                file,
                "must have 9 outputs (scores, boxes, keypoints for strides 8, 16, 32) "
                f"with widths 1/4/10, found {len(outputs)} with widths {widths}",
            )
        self._det_input = inputs[0].name
        self._det_outputs = [o.name for o in outputs]

    @property
    def model_info(self) -> ModelInfo:
        return self._info

    def detect(self, images: Sequence[BGRImage]) -> list[list[DetectedFace]]:
        if not images:
            return []
        s = self._settings
        size = s.det_size
        boxes = [detection.letterbox(image, size) for image in images]
        blob = cv2.dnn.blobFromImages(
            [b.image for b in boxes],
            1.0 / DET_STD,
            (size, size),
            (DET_MEAN, DET_MEAN, DET_MEAN),
            swapRB=True,
        )
        outs = run_batch(self._detector, blob, self._det_outputs, split=not self._det_batches)
        results: list[list[DetectedFace]] = []
        for i, (image, box) in enumerate(zip(images, boxes, strict=True)):
            dets, kps = detection.decode([o[i] for o in outs], size, box.scale, s.det_thresh)
            dets, kps = detection.select_faces(
                dets,
                kps,
                image.shape,
                nms_thresh=s.nms_thresh,
                min_size=s.min_face_size,
                max_faces=s.max_faces,
            )
            results.append(
                [
                    DetectedFace(bbox=d[:4].copy(), score=float(d[4]), kps=k)
                    for d, k in zip(dets, kps, strict=True)
                ]
            )
        if self._landmarker is not None:
            self._add_landmarks(images, results)
        return results

    def _add_landmarks(self, images: Sequence[BGRImage], results: list[list[DetectedFace]]) -> None:
        pairs = [
            (image, face) for image, faces in zip(images, results, strict=True) for face in faces
        ]
        if not pairs or self._landmarker is None:
            return
        crops, matrices = zip(
            *(alignment.landmark_crop(img, f.bbox) for img, f in pairs), strict=True
        )
        size = alignment.LANDMARK_INPUT_SIZE
        blob = cv2.dnn.blobFromImages(
            list(crops), 1.0 / self._lmk_std, (size, size), (self._lmk_mean,) * 3, swapRB=True
        )
        preds = run_batch(self._landmarker, blob)[0]
        for (_, face), pred, matrix in zip(pairs, preds, matrices, strict=True):
            face.landmarks_106 = alignment.landmarks_to_image(pred[-212:], matrix, size)

    def embed(self, images: Sequence[BGRImage], faces: Sequence[DetectedFace]) -> FloatArray:
        if len(images) != len(faces):
            raise ValueError(f"embed needs one image per face, got {len(images)} and {len(faces)}")
        if not faces:
            return np.empty((0, self._info.embedding_dim), dtype=np.float32)
        crops = []
        for image, face in zip(images, faces, strict=True):
            if face.kps is None:
                raise ValueError("a face without keypoints cannot be aligned")
            crops.append(alignment.norm_crop(image, face.kps, self._rec_size))
        blob = cv2.dnn.blobFromImages(
            crops, 1.0 / self._rec_std, (self._rec_size,) * 2, (self._rec_mean,) * 3, swapRB=True
        )
        feats = run_batch(self._recognizer, blob)[0].astype(np.float32)
        norms = np.linalg.norm(feats, axis=1, keepdims=True)
        return np.asarray(feats / np.maximum(norms, 1e-12), dtype=np.float32)

    def attributes(
        self, images: Sequence[BGRImage], faces: Sequence[DetectedFace]
    ) -> list[FaceAttributes]:
        return self.attribute_models.attributes(images, faces)
