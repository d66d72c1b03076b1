"""Class-level model references that exist only when the model is in the store.

BentoML packs the models named as class attributes into the Bento. A missing model must
not stop ``bentoml serve``: the face service falls back to dlib and the emotion service
reports itself unavailable, so the reference is ``None`` when the store lacks the tag.
"""

from __future__ import annotations

import logging

import bentoml
from bentoml.exceptions import NotFound

logger = logging.getLogger(__name__)


def optional_bento_model(tag: str) -> bentoml.models.BentoModel | None:
    try:
        stored = bentoml.models.get(tag)
    except NotFound:
        logger.info("model %s is not in the BentoML store", tag)
        return None
    return bentoml.models.BentoModel(stored.tag)


def model_labels(ref: bentoml.models.BentoModel | None) -> dict[str, str]:
    if ref is None or ref.stored is None:
        return {}
    return dict(ref.stored.info.labels)
