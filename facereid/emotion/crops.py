"""Face crops and emotion labels for CLIP, without torch: the API process validates labels
and cuts crops with this module alone, so it never imports torch."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from facereid.errors import (
    FaceReIDError,
    InvalidFaceBoxError,
    InvalidInputError,
    InvalidLabelsError,
    UnsupportedEmotionLabelsError,
)

MAX_LABELS = 32
MAX_LABEL_LENGTH = 64
# Labels given as nouns read better in the templates as adjectives; others are used as given.
EMOTION_ADJECTIVES = {
    "happiness": "happy",
    "joy": "joyful",
    "sadness": "sad",
    "anger": "angry",
    "surprise": "surprised",
    "fear": "fearful",
    "disgust": "disgusted",
    "contempt": "contemptuous",
    "neutrality": "neutral",
}


def rgb_crop(crop: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """A face crop as a contiguous H x W x 3 uint8 array; anything else is refused."""
    array = np.asarray(crop)
    if array.ndim != 3 or array.shape[2] != 3 or array.shape[0] == 0 or array.shape[1] == 0:
        raise InvalidInputError(f"expected a non-empty H x W x 3 RGB crop, got {array.shape}")
    return np.ascontiguousarray(array, dtype=np.uint8)


def prompt_word(label: str) -> str:
    return EMOTION_ADJECTIVES.get(label.lower(), label)


def validate_labels(labels: Sequence[str]) -> tuple[str, ...]:
    """1-32 unique, non-empty labels of at most 64 characters, surrounding spaces removed."""
    if isinstance(labels, str) or not isinstance(labels, Sequence):
        raise InvalidLabelsError("labels must be a list of strings")
    if not 1 <= len(labels) <= MAX_LABELS:
        raise InvalidLabelsError(f"give 1 to {MAX_LABELS} labels, not {len(labels)}")
    cleaned: list[str] = []
    for label in labels:
        if not isinstance(label, str) or not label.strip():
            raise InvalidLabelsError("every label must be a non-empty string")
        if len(label.strip()) > MAX_LABEL_LENGTH:
            raise InvalidLabelsError(f"labels are at most {MAX_LABEL_LENGTH} characters")
        cleaned.append(label.strip())
    if len({label.lower() for label in cleaned}) != len(cleaned):
        raise InvalidLabelsError("labels must be unique (case-insensitive)")
    return tuple(cleaned)


def fixed_class(label: str, known: Sequence[str]) -> str | None:
    """The fixed-class model's class (one of ``known``) that ``label`` names: the class itself
    or its noun/adjective form (``surprised`` is fer's ``surprise``, ``happiness`` its
    ``happy``), case-insensitive; None when it names none. So the service's default labels
    (CLIP's words) mean the same classes with either engine."""
    by_word = {k.lower(): k for k in known}
    word = label.lower()
    forms = [word, EMOTION_ADJECTIVES.get(word, word)]
    forms += [noun for noun, adjective in EMOTION_ADJECTIVES.items() if adjective == word]
    return next((by_word[form] for form in forms if form in by_word), None)


def subset_labels(labels: Sequence[str], known: Sequence[str]) -> tuple[str, ...]:
    """``labels`` validated and checked to name a subset of a fixed-class model's ``known``
    classes (fer's seven), one label per class (see ``fixed_class``)."""
    cleaned = validate_labels(labels)
    unknown = [label for label in cleaned if fixed_class(label, known) is None]
    if unknown:
        raise UnsupportedEmotionLabelsError(
            f"the emotion model (fer) knows only {', '.join(known)}; not {', '.join(unknown)}"
        )
    classes = [fixed_class(label, known) for label in cleaned]
    if len(set(classes)) != len(classes):
        raise UnsupportedEmotionLabelsError(
            "two labels name the same class of the emotion model (fer): "
            f"{', '.join(cleaned)} are {', '.join(str(c) for c in classes)}"
        )
    return cleaned


def margin_box(
    box: Sequence[float] | npt.NDArray[np.floating], margin: float, width: int, height: int
) -> tuple[int, int, int, int]:
    """The x1,y1,x2,y2 box grown by ``margin`` x its size on every side, in whole pixels
    (outwards), clipped to a ``width`` x ``height`` image."""
    x1, y1, x2, y2 = (float(v) for v in list(box)[:4])
    if not all(np.isfinite((x1, y1, x2, y2))) or x2 <= x1 or y2 <= y1:
        raise InvalidFaceBoxError(f"face box {box!r} is not x1,y1,x2,y2 with x2>x1, y2>y1")
    dx, dy = margin * (x2 - x1), margin * (y2 - y1)
    left, top = max(0, int(np.floor(x1 - dx))), max(0, int(np.floor(y1 - dy)))
    right, bottom = min(width, int(np.ceil(x2 + dx))), min(height, int(np.ceil(y2 + dy)))
    if right <= left or bottom <= top:
        raise InvalidFaceBoxError(f"face box {box!r} lies outside the {width}x{height} image")
    return left, top, right, bottom


def crop_face(
    image_bgr: npt.NDArray[np.uint8], box: Sequence[float] | npt.NDArray[np.floating], margin: float
) -> npt.NDArray[np.uint8]:
    """The face with its margin as a contiguous RGB array."""
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
        raise InvalidInputError(
            f"expected an H x W x 3 uint8 BGR image, got {image_bgr.dtype} {image_bgr.shape}"
        )
    left, top, right, bottom = margin_box(box, margin, image_bgr.shape[1], image_bgr.shape[0])
    return np.ascontiguousarray(image_bgr[top:bottom, left:right, ::-1])


def face_crops(
    image_bgr: npt.NDArray[np.uint8], boxes: Sequence[Sequence[float]], margin: float
) -> list[npt.NDArray[np.uint8] | None]:
    """One RGB crop per box, None for a box (mostly) outside the image: nothing to score."""
    crops: list[npt.NDArray[np.uint8] | None] = []
    for box in boxes:
        try:
            crops.append(crop_face(image_bgr, box, margin))
        except FaceReIDError:
            crops.append(None)
    return crops
