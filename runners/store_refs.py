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


def model_labels(stored: bentoml.Model | None) -> dict[str, str]:
    """Labels of a stored model. Note: on a service *instance* a ``BentoModel`` class
    attribute reads as the resolved ``bentoml.Model`` (path, tag, info)."""
    if stored is None:
        return {}
    return dict(stored.info.labels)
