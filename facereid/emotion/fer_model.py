"""fer's mini-Xception emotions on ONNX Runtime, torch-free (the model ``python -m models fer``
stores): the same public surface as the CLIP ``EmotionScorer`` (``labels``, ``score_crops``,
``warm_up``), so the emotion service serves either.

The model knows seven fixed classes. A caller's labels must be a subset of them (any case):
the answer holds those labels, their probabilities renormalised to sum to 1; other labels
are refused with ``UnsupportedEmotionLabelsError`` (422, ``unsupported_emotion_labels``).
Preprocessing is fer.py's: grayscale, ``cv2.resize`` to 64x64 (bilinear), then
``(x / 255 - 0.5) * 2``. The crop it sees is cut by the face service with ``FER_CROP_MARGIN``
(docs/emotions.md says why that margin).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from facereid.emotion.crops import fixed_class, rgb_crop, subset_labels
from facereid.errors import FaceReIDError, ModelSignatureError

if TYPE_CHECKING:
    from facereid.faces.onnx_runtime import InferenceSession

logger = logging.getLogger(__name__)

FER_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FER_INPUT_SIZE = 64
# FER2013's faces are tight (brows to chin); fer.py grows its detector's box by 10 px a side,
# about a tenth of a typical face: docs/emotions.md
FER_CROP_MARGIN = 0.1
INPUT_NAME = "input"
OUTPUT_NAME = "probabilities"


def default_labels(configured: Sequence[str]) -> tuple[str, ...]:
    """EMOTION_LABELS when they name a subset of fer's seven (the default does: its
    ``surprised``, ``fearful``, ``disgusted`` are fer's ``surprise``, ``fear``, ``disgust``),
    else fer's own seven."""
    try:
        return subset_labels(configured, FER_LABELS)
    except FaceReIDError:
        logger.info("EMOTION_LABELS do not name a subset of fer's classes; fer answers its seven")
        return FER_LABELS


def preprocess(crops: Sequence[npt.NDArray[np.uint8]]) -> npt.NDArray[np.float32]:
    """RGB H x W x 3 uint8 crops as the model's [N, 64, 64, 1] float32 in [-1, 1]."""
    import cv2

    batch = np.empty((len(crops), FER_INPUT_SIZE, FER_INPUT_SIZE, 1), dtype=np.float32)
    for i, crop in enumerate(crops):
        gray = cv2.cvtColor(rgb_crop(crop), cv2.COLOR_RGB2GRAY)
        resized = cv2.resize(gray, (FER_INPUT_SIZE, FER_INPUT_SIZE))  # bilinear, as fer.py
        batch[i, :, :, 0] = (resized.astype(np.float32) / 255.0 - 0.5) * 2.0
    return batch


def check_signature(session: InferenceSession, path: str) -> None:
    inputs, outputs = session.get_inputs(), session.get_outputs()
    shape_in = list(inputs[0].shape)[1:] if len(inputs) == 1 else None
    shape_out = list(outputs[0].shape)[1:] if len(outputs) == 1 else None
    if (
        shape_in != [FER_INPUT_SIZE, FER_INPUT_SIZE, 1]
        or inputs[0].name != INPUT_NAME
        or shape_out != [len(FER_LABELS)]
        or outputs[0].name != OUTPUT_NAME
    ):
        raise ModelSignatureError(
            f"{path} is not fer's emotion model (input 'input' [N,64,64,1], output "
            f"'probabilities' [N,7]); re-run `python -m models fer`"
        )


class FerEmotionScorer:
    """Emotion probabilities for RGB face crops from fer's model. Thread-safe (ONNX Runtime
    sessions are); deterministic."""

    def __init__(
        self,
        session: InferenceSession,
        labels: Sequence[str] = FER_LABELS,
        *,
        model_labels: Sequence[str] = FER_LABELS,
        crop_margin: float = FER_CROP_MARGIN,
    ) -> None:
        self.session = session
        self.model_labels = tuple(model_labels)
        self.labels = subset_labels(labels, self.model_labels)
        self.crop_margin = crop_margin
        self._index = {label.lower(): i for i, label in enumerate(self.model_labels)}

    def probabilities(self, crops: Sequence[npt.NDArray[np.uint8]]) -> npt.NDArray[np.float32]:
        """The model's [N, 7] softmax for the crops."""
        out = self.session.run([OUTPUT_NAME], {INPUT_NAME: preprocess(crops)})[0]
        return np.asarray(out, dtype=np.float32)

    def score_crops(
        self, crops: Sequence[npt.NDArray[np.uint8]], labels: Sequence[str] | None = None
    ) -> list[dict[str, float]]:
        """Probabilities per label (the model's or a subset of them, renormalised to 1)."""
        label_set = self.labels if labels is None else subset_labels(labels, self.model_labels)
        if not crops:
            return []
        columns = [
            self._index[str(fixed_class(label, self.model_labels)).lower()] for label in label_set
        ]
        chosen = self.probabilities(crops)[:, columns].astype(np.float64)
        chosen /= np.maximum(chosen.sum(axis=1, keepdims=True), np.finfo(np.float64).tiny)
        return [dict(zip(label_set, map(float, row), strict=True)) for row in chosen]

    def warm_up(self) -> None:
        self.score_crops([np.zeros((FER_INPUT_SIZE, FER_INPUT_SIZE, 3), dtype=np.uint8)])


def load_fer(
    model_dir: Path, labels: Sequence[str] | None = None, **kwargs: Any
) -> FerEmotionScorer:
    """The stored ``facereid-fer`` model folder as a scorer; the labels default to the
    model's own."""
    from facereid.faces.onnx_runtime import create_session

    path = model_dir / "fer_emotion.onnx"
    if not path.is_file():
        raise ModelSignatureError(
            f"{model_dir} has no fer_emotion.onnx; re-run `python -m models fer`"
        )
    session = create_session(path, intra_op_threads=kwargs.pop("intra_op_threads", 0))
    check_signature(session, str(path))
    return FerEmotionScorer(session, FER_LABELS if labels is None else labels, **kwargs)
