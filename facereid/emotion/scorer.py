"""CLIP zero-shot emotions for face crops, with cached text features per label set.

The computation is open_clip's own zero-shot classification, in numpy on the ONNX towers'
outputs: a prompt ensemble per label (``build_zero_shot_classifier``: mean of normalised
template embeddings, renormalised), then ``softmax(logit_scale.exp() * image_features @
classifier)``. No torch: tests/unit/facereid/emotion/test_parity.py holds it to open_clip's own.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from facereid.config import DEFAULT_EMOTION_LABELS, get_settings
from facereid.emotion.clip_model import CLIP_ONNX_FILE, ClipBundle, load_clip
from facereid.emotion.crops import crop_face, prompt_word, rgb_crop, validate_labels

logger = logging.getLogger(__name__)

__all__ = [
    "CLIP_ONNX_FILE",
    "DEFAULT_TEMPLATES",
    "ClipBundle",
    "EmotionScorer",
    "load_clip",
]

DEFAULT_TEMPLATES: tuple[str, ...] = (
    "a photo of a {} face.",
    "a close-up photo of a person looking {}.",
    "a photo of a {} looking person.",
    "a face with a {} expression.",
    "a cropped photo of the face of a {} person.",
    "a person who feels {}.",
)
Crop = Image.Image | npt.NDArray[np.uint8]
Matrix = npt.NDArray[np.float32]


@dataclass(frozen=True)
class CacheInfo:
    hits: int
    misses: int
    size: int


def preprocess_threads(setting: int, cores: int | None = None) -> int:
    """CLIP_PREPROCESS_THREADS, or for 0 (auto) one per core up to 8: a batch's crops are
    resized side by side (docs/benchmarks.md)."""
    return setting or max(1, min(8, cores or os.cpu_count() or 1))


def l2_normalise(x: Matrix, eps: float = 1e-12) -> Matrix:
    """torch.nn.functional.normalize: rows over max(norm, eps)."""
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    normalised: Matrix = (x / np.maximum(norms, np.float32(eps))).astype(np.float32)
    return normalised


def softmax(logits: Matrix) -> Matrix:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probabilities: Matrix = (shifted / shifted.sum(axis=-1, keepdims=True)).astype(np.float32)
    return probabilities


def _to_pil(crop: Crop) -> Image.Image:
    if isinstance(crop, Image.Image):
        return crop.convert("RGB")
    return Image.fromarray(rgb_crop(crop), mode="RGB")


class EmotionScorer:
    """Zero-shot emotion probabilities for face crops. Thread-safe; deterministic."""

    def __init__(
        self,
        bundle: ClipBundle,
        labels: Sequence[str] = DEFAULT_EMOTION_LABELS,
        templates: Sequence[str] = DEFAULT_TEMPLATES,
        *,
        margin: float | None = None,
        cache_size: int = 64,
    ) -> None:
        if not templates or any("{}" not in t for t in templates):
            raise ValueError("every template needs one '{}' for the label")
        self.bundle = bundle
        self.labels = validate_labels(labels)
        self.templates = tuple(templates)
        self.margin = get_settings().emotion_crop_margin if margin is None else margin
        if not self.margin >= 0:
            raise ValueError(f"crop margin must be >= 0, not {self.margin}")
        self._cache: OrderedDict[tuple[tuple[str, ...], tuple[str, ...]], Matrix] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        threads = preprocess_threads(get_settings().clip_preprocess_threads)
        self._pool = ThreadPoolExecutor(threads, "clip-preprocess") if threads > 1 else None
        self._hits = 0
        self._misses = 0

    def cache_info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(self._hits, self._misses, len(self._cache))

    def text_classifier(self, labels: Sequence[str] | None = None) -> Matrix:
        """The (embed_dim, n_labels) zero-shot weights, computed once per label set (LRU)."""
        label_set = self.labels if labels is None else validate_labels(labels)
        key = (label_set, self.templates)
        with self._lock:  # one fill per key, even under concurrent first requests
            cached = self._cache.get(key)
            if cached is not None:
                self._hits += 1
                self._cache.move_to_end(key)
                return cached
            self._misses += 1
            classifier = self._build_classifier(label_set)
            self._cache[key] = classifier
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            return classifier

    def _build_classifier(self, labels: tuple[str, ...]) -> Matrix:
        """open_clip.build_zero_shot_classifier: all label x template texts in one forward,
        class-major; each embedding normalised, averaged per class, renormalised."""
        classnames = [prompt_word(label) for label in labels]
        texts = [template.format(c) for c in classnames for template in self.templates]
        embeddings = l2_normalise(self.bundle.encode_text(self.bundle.tokenize(texts)))
        per_class = embeddings.reshape(len(labels), len(self.templates), -1).mean(axis=1)
        per_class = per_class / np.linalg.norm(per_class, axis=1, keepdims=True)
        classifier = np.ascontiguousarray(per_class.T, dtype=np.float32)
        classifier.flags.writeable = False  # shared by every request through the cache
        return classifier

    def preprocess(self, crops: Sequence[Crop]) -> Matrix:
        """CLIP preprocessing (the export's own transform) as one [N, 3, S, S] batch."""
        return self.bundle.preprocess([_to_pil(crop) for crop in crops], self._pool)

    def score_crops(
        self, crops: Sequence[Crop], labels: Sequence[str] | None = None
    ) -> list[dict[str, float]]:
        """Probabilities per label for RGB face crops (PIL images or H x W x 3 uint8)."""
        label_set = self.labels if labels is None else validate_labels(labels)
        classifier = self.text_classifier(label_set)
        if not crops:
            return []
        features = l2_normalise(self.bundle.encode_image(self.preprocess(crops)))
        logits = np.float32(self.bundle.logit_scale) * features @ classifier
        probabilities = softmax(logits.astype(np.float32))
        return [dict(zip(label_set, map(float, row), strict=True)) for row in probabilities]

    def score(
        self,
        faces: Sequence[tuple[npt.NDArray[np.uint8], Sequence[float] | npt.NDArray[np.floating]]],
        labels: Sequence[str] | None = None,
    ) -> list[dict[str, float]]:
        """Probabilities per label for (BGR image, x1,y1,x2,y2 box) pairs, one forward."""
        label_set = self.labels if labels is None else validate_labels(labels)
        crops = [crop_face(image, box, self.margin) for image, box in faces]
        return self.score_crops(crops, label_set)

    def warm_up(self) -> None:
        """Fill the default label set's text features and run one image forward."""
        size = self.bundle.image_size
        self.score_crops([np.zeros((size, size, 3), dtype=np.uint8)])
