"""FerEmotionScorer: fer.py's preprocessing, subsets of its seven labels renormalised, other
labels refused with a stable code, the model file's signature checked at load; a fake
session at the boundary, and the real converted model once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from facereid.config import DEFAULT_EMOTION_LABELS
from facereid.emotion.fer_model import (
    FER_LABELS,
    FerEmotionScorer,
    check_signature,
    default_labels,
    load_fer,
    preprocess,
)
from facereid.errors import InvalidInputError, ModelSignatureError, UnsupportedEmotionLabelsError

PROBS = np.array([0.1, 0.0, 0.1, 0.4, 0.2, 0.0, 0.2], np.float32)


@dataclass
class Info:
    name: str
    shape: Sequence[Any]


class FakeSession:
    def __init__(self, inputs: Sequence[Info] = (Info("input", ["N", 64, 64, 1]),)) -> None:
        self.inputs = list(inputs)
        self.fed: list[np.ndarray] = []

    def get_inputs(self) -> list[Info]:
        return self.inputs

    def get_outputs(self) -> list[Info]:
        return [Info("probabilities", ["N", 7])]

    def run(self, names: list[str] | None, feeds: dict[str, Any]) -> list[Any]:
        self.fed.append(feeds["input"])
        return [np.tile(PROBS, (len(feeds["input"]), 1))]


def test_preprocess_is_fers_gray_64_in_minus_one_to_one() -> None:
    white = np.full((120, 90, 3), 255, np.uint8)
    black = np.zeros((30, 30, 3), np.uint8)
    red = np.zeros((64, 64, 3), np.uint8)
    red[..., 0] = 255  # RGB: gray = 0.299 * 255
    batch = preprocess([white, black, red])
    assert batch.shape == (3, 64, 64, 1) and batch.dtype == np.float32
    assert np.all(batch[0] == 1.0) and np.all(batch[1] == -1.0)
    assert np.allclose(batch[2], (76 / 255 - 0.5) * 2, atol=1e-6)  # not the BGR weight (29)


def test_preprocess_refuses_what_is_not_an_rgb_crop() -> None:
    with pytest.raises(InvalidInputError):
        preprocess([np.zeros((10, 0, 3), np.uint8)])
    with pytest.raises(InvalidInputError):
        preprocess([np.zeros((10, 10), np.uint8)])


def test_default_answer_is_the_seven_labels_in_the_models_order() -> None:
    scores = FerEmotionScorer(FakeSession()).score_crops([np.zeros((8, 8, 3), np.uint8)] * 2)
    assert len(scores) == 2 and list(scores[0]) == list(FER_LABELS)
    assert np.allclose(list(scores[0].values()), PROBS)


def test_a_subset_keeps_the_callers_spelling_and_sums_to_one() -> None:
    scorer = FerEmotionScorer(FakeSession())
    [scores] = scorer.score_crops([np.zeros((8, 8, 3), np.uint8)], labels=["Happy", " sad "])
    assert list(scores) == ["Happy", "sad"]
    assert scores["Happy"] == pytest.approx(0.4 / 0.6) and sum(scores.values()) == 1.0


def test_the_service_default_words_name_fers_classes() -> None:
    scorer = FerEmotionScorer(FakeSession(), labels=DEFAULT_EMOTION_LABELS)
    [scores] = scorer.score_crops([np.zeros((8, 8, 3), np.uint8)])
    assert list(scores) == list(DEFAULT_EMOTION_LABELS)
    by_class = dict(zip(FER_LABELS, PROBS, strict=True))
    for word, fer_class in (("surprised", "surprise"), ("fearful", "fear"), ("angry", "angry")):
        assert scores[word] == pytest.approx(by_class[fer_class])
    [nouns] = scorer.score_crops([np.zeros((8, 8, 3), np.uint8)], labels=["happiness", "Sadness"])
    share = by_class["happy"] / (by_class["happy"] + by_class["sad"])
    assert nouns["happiness"] == pytest.approx(share)


@pytest.mark.parametrize(
    "labels", [["happy", "joyful"], ["contempt"], ["surprise", "Surprised"], ["fear", "afraid"]]
)
def test_labels_outside_the_seven_are_refused_with_a_stable_code(labels: list[str]) -> None:
    session = FakeSession()
    with pytest.raises(UnsupportedEmotionLabelsError) as caught:
        FerEmotionScorer(session).score_crops([np.zeros((8, 8, 3), np.uint8)], labels=labels)
    assert caught.value.code == "unsupported_emotion_labels" and caught.value.status == 422
    assert session.fed == []  # refused before the model ran


def test_a_default_label_set_outside_the_seven_is_refused_at_construction() -> None:
    with pytest.raises(UnsupportedEmotionLabelsError):
        FerEmotionScorer(FakeSession(), labels=["happy", "bored"])


def test_default_labels_are_fers_unless_the_setting_is_a_subset() -> None:
    from facereid.config import DEFAULT_EMOTION_LABELS

    # the service's default words name fer's classes (surprised is fer's surprise)
    assert default_labels(DEFAULT_EMOTION_LABELS) == DEFAULT_EMOTION_LABELS
    assert default_labels(["happy", "bored"]) == FER_LABELS
    assert default_labels(["Happy", "neutral"]) == ("Happy", "neutral")


def test_no_crops_no_model_call() -> None:
    session = FakeSession()
    assert FerEmotionScorer(session).score_crops([]) == [] and session.fed == []


@pytest.mark.parametrize(
    "inputs",
    [
        [Info("input", ["N", 48, 48, 1])],
        [Info("image", ["N", 64, 64, 1])],
        [Info("input", ["N", 1, 64, 64])],
    ],
)
def test_a_model_with_another_signature_is_refused(inputs: list[Info]) -> None:
    with pytest.raises(ModelSignatureError, match="python -m models fer"):
        check_signature(FakeSession(inputs), "model.onnx")


def test_the_stored_model_scores_real_pixels(bentoml_home: Path) -> None:
    from models.fer import store_fer

    scorer = load_fer(Path(store_fer().path))
    scorer.warm_up()
    rng = np.random.default_rng(0)
    scores = scorer.score_crops([rng.integers(0, 256, (80, 70, 3), dtype=np.uint8)] * 3)
    assert all(list(s) == list(FER_LABELS) for s in scores)
    assert all(sum(s.values()) == pytest.approx(1.0, abs=1e-6) for s in scores)
    assert scores[0] == scores[2]  # deterministic


def test_a_model_folder_without_the_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelSignatureError, match="fer_emotion.onnx"):
        load_fer(tmp_path)
