"""The CLIP emotion service: zero-shot emotion scores for face crops, batched.

Run it inside the face service's process tree (the default) or on its own
(``bentoml serve runners.emotion:EmotionModel``) and point ``CLIP_SERVICE_URL`` at it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import bentoml
import numpy as np

from facereid.config import get_settings
from facereid.emotion.scorer import EmotionScorer
from facereid.wire.emotion import ClipStatus
from runners import RUNNER_CONNECTION
from runners.media_types import answer_media_types
from runners.store_refs import model_labels, optional_bento_model

logger = logging.getLogger(__name__)
_settings = get_settings()

EMOTION_MAX_BATCH = 32
EMOTION_MAX_LATENCY_MS = 30_000


@answer_media_types
@bentoml.service(
    name="EmotionModel",
    workers=1,
    threads=1,
    traffic={"timeout": 60, "max_concurrency": 128},
    runner_connection=RUNNER_CONNECTION,
)
class EmotionModel:
    clip_pack = optional_bento_model(_settings.clip_model_tag)

    def __init__(self) -> None:
        self.scorer: EmotionScorer | None = None
        self.reason = ""
        stored: bentoml.Model | None = self.clip_pack  # resolved by BentoML on the instance
        self.tag = None if stored is None else str(stored.tag)
        self.labels = model_labels(stored)
        if stored is None:
            self.reason = (
                f"no CLIP model {_settings.clip_model_tag} in the BentoML store; run "
                "`python -m models pull` (or `synth` for a stand-in)"
            )
            logger.warning("emotion service unavailable: %s", self.reason)
            return
        from facereid.emotion.clip_model import load_clip

        bundle = load_clip(Path(stored.path))
        self.scorer = EmotionScorer(bundle, labels=_settings.emotion_labels)
        # Fill the default labels' text features and run one image forward now, so the first
        # request does not pay for them (and does not run into the caller's CLIP timeout).
        self.scorer.warm_up()
        if self.labels.get("source") == "synthetic":
            logger.warning("SYNTHETIC CLIP model loaded: emotion scores are not meaningful")
        logger.info("emotion service ready: %s", self.tag)

    @bentoml.api
    def health(self) -> ClipStatus:
        return ClipStatus(
            available=self.scorer is not None,
            reason=self.reason or None,
            model=self.tag,
            source=self.labels.get("source"),
            synthetic=self.labels.get("source") == "synthetic",
            labels=list(_settings.emotion_labels),
        )

    @bentoml.api(
        batchable=True, max_batch_size=EMOTION_MAX_BATCH, max_latency_ms=EMOTION_MAX_LATENCY_MS
    )
    def score(self, crops: list[np.ndarray]) -> list[dict[str, float]]:
        """Default-label emotion distributions, one per RGB face crop."""
        return self._require_scorer().score_crops(crops)

    @bentoml.api
    def score_labels(self, crops: list[np.ndarray], labels: list[str]) -> list[dict[str, float]]:
        """Emotion distributions over a caller's own label set (text features cached)."""
        return self._require_scorer().score_crops(crops, labels=labels)

    def _require_scorer(self) -> EmotionScorer:
        if self.scorer is None:
            raise bentoml.exceptions.ServiceUnavailable(self.reason)
        return self.scorer
