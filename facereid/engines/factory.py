"""Choose the face engine: ``FACE_ENGINE=auto|insightface|dlib``.

``auto`` takes InsightFace when its pack is in the store and dlib (real weights shipped on
PyPI) otherwise, and says so loudly: a silent fallback would change which embedding space
callers get.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from facereid.config import Settings
from facereid.engines.base import FaceEngine
from facereid.errors import ModelNotAvailableError
from facereid.faces.records import ModelInfo

logger = logging.getLogger(__name__)


def insightface_model_info(
    labels: Mapping[str, str], metadata: Mapping[str, object], tag: str | None
) -> ModelInfo:
    dim = metadata.get("embedding_dim", 512)
    return ModelInfo(
        engine="insightface",
        name=labels.get("pack", "unknown"),
        source=labels.get("source", "unknown"),
        embedding_dim=int(dim) if isinstance(dim, int | str) else 512,
        tag=tag,
    )


def build_engine(
    settings: Settings,
    pack_dir: Path | None,
    model_info: ModelInfo | None,
    pack_files: Mapping[str, object] | None = None,
) -> FaceEngine:
    """``pack_files`` is the store metadata naming the pack's detector, recogniser and
    106-point model files (packs name them differently)."""
    choice = settings.face_engine
    if choice == "insightface" or (choice == "auto" and pack_dir is not None):
        if pack_dir is None or model_info is None:
            raise ModelNotAvailableError(
                f"FACE_ENGINE=insightface but {settings.face_model_tag} is not in the BentoML "
                "store; run `python -m models pull` (or `import`, or `synth` for a stand-in)"
            )
        from facereid.engines.insightface_engine import InsightFaceEngine

        names = {
            key: str(value)
            for key, value in (pack_files or {}).items()
            if key in ("detector", "recognizer", "landmark_106") and value
        }
        engine: FaceEngine = InsightFaceEngine(
            pack_dir,
            model_info,
            settings,
            detector_file=names.get("detector", "det_10g.onnx"),
            recognizer_file=names.get("recognizer", "w600k_r50.onnx"),
            landmark_file=names.get("landmark_106", "2d106det.onnx"),
        )
        if model_info.synthetic:
            logger.warning(
                "SYNTHETIC InsightFace pack %s loaded: detections and embeddings are "
                "deterministic stand-ins, not real face semantics",
                model_info.tag,
            )
        return engine
    from facereid.engines.dlib_engine import DlibEngine

    if choice == "auto":
        logger.warning(
            "FACE_ENGINE=auto: no InsightFace pack (%s) in the BentoML store, using the dlib "
            "engine (128-d embeddings, real weights from PyPI). Run `python -m models pull` "
            "or `python -m models import` for InsightFace.",
            settings.face_model_tag,
        )
    return DlibEngine(settings)
