"""All settings in one place, read from the environment once.

Names follow the seed where it names them (``MODEL_PATH``, ``CLIP_SERVICE_URL``); the rest
are documented in ``docs/operations.md``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_EMOTION_LABELS = ("happy", "sad", "angry", "surprised", "fearful", "disgusted", "neutral")

# Model names in the BentoML store. `python -m models pull|import|synth` write these names and
# the services look them up, so a synthetic pack stands in for a real one without code changes.
FACE_MODEL_NAME = "facereid-insightface"
CLIP_MODEL_NAME = "facereid-clip"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    # Models
    model_path: str = Field(default="./models", description="Folder of an InsightFace pack")
    face_engine: Literal["auto", "insightface", "dlib"] = "auto"
    face_model_tag: str = f"{FACE_MODEL_NAME}:latest"
    clip_model_tag: str = f"{CLIP_MODEL_NAME}:latest"
    clip_service_url: str | None = None
    clip_timeout_s: float = 5.0
    clip_health_interval_s: float = 5.0
    face_timeout_s: float = 60.0

    # Limits from the seed
    max_image_side: int = 4096
    min_face_size: int = 20
    max_faces: int = 32
    max_batch_images: int = 32
    max_image_pixels: int = 4096 * 4096
    max_gallery_rows: int = 100_000

    # Detection
    det_thresh: float = 0.5
    nms_thresh: float = 0.4
    det_size: int = 640
    dlib_detector: Literal["hog", "cnn"] = "hog"
    dlib_upsample: int = 1

    # Emotions
    emotion_labels: tuple[str, ...] = DEFAULT_EMOTION_LABELS
    emotion_crop_margin: float = 0.25

    # Runtime
    ort_intra_op_threads: int = 0  # 0: let ONNX Runtime decide
    torch_threads: int = 0


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
