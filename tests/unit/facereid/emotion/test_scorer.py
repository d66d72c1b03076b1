"""Zero-shot emotions on the tiny synthetic CLIP's ONNX export: probabilities, label sets,
cache, crop geometry (parity with open_clip's own zero-shot code: test_parity.py)."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

from facereid.config import DEFAULT_EMOTION_LABELS
from facereid.emotion.crops import crop_face, margin_box, prompt_word
from facereid.emotion.scorer import (
    ClipBundle,
    EmotionScorer,
    load_clip,
)
from facereid.errors import (
    InvalidFaceBoxError,
    InvalidInputError,
    InvalidLabelsError,
)

# Hand-picked regions of t1.jpg (1280 x 886), two of them touching the image edges.
BOXES = [(100.0, 50.0, 200.0, 170.0), (10.0, 5.0, 110.0, 85.0), (1200.0, 800.0, 1280.0, 886.0)]
MARGIN = 0.25


@pytest.fixture(scope="module")
def image(t1_path: Path) -> np.ndarray:
    loaded = cv2.imread(str(t1_path))
    assert loaded is not None and loaded.shape == (886, 1280, 3)
    return loaded


def _faces(image: np.ndarray) -> list[tuple[np.ndarray, tuple[float, ...]]]:
    return [(image, box) for box in BOXES]


class CountingSession:
    """The textual tower's session, counting its forwards (a fake at the ONNX boundary)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.calls = 0

    def get_inputs(self) -> Any:
        return self.session.get_inputs()

    def get_outputs(self) -> Any:
        return self.session.get_outputs()

    def run(self, names: Any, feeds: dict[str, Any]) -> list[Any]:
        self.calls += 1
        return list(self.session.run(names, feeds))


def _counting(pack_dir: Path) -> tuple[ClipBundle, CountingSession]:
    fresh = load_clip(pack_dir, device="cpu")
    counter = CountingSession(fresh.textual)
    return dataclasses.replace(fresh, textual=counter), counter


def test_probabilities_are_a_distribution_over_the_labels(
    bundle: ClipBundle, image: np.ndarray
) -> None:
    results = EmotionScorer(bundle, margin=MARGIN).score(_faces(image))
    assert len(results) == len(BOXES)
    for result in results:
        assert list(result) == list(DEFAULT_EMOTION_LABELS)
        assert all(0.0 <= p <= 1.0 for p in result.values())
        assert sum(result.values()) == pytest.approx(1.0, abs=1e-6)
    assert results[0] != results[1]  # different crops, different scores


def test_request_labels_change_the_keys(bundle: ClipBundle, image: np.ndarray) -> None:
    scorer = EmotionScorer(bundle, margin=MARGIN)
    results = scorer.score(_faces(image), labels=["calm", "Excited", "anger"])
    assert [list(r) for r in results] == [["calm", "Excited", "anger"]] * len(BOXES)
    assert all(sum(r.values()) == pytest.approx(1.0, abs=1e-6) for r in results)
    assert prompt_word("anger") == "angry" and prompt_word("calm") == "calm"


def test_cache_hits_give_equal_results_and_one_text_forward_per_label_set(
    pack_dir: Path, image: np.ndarray
) -> None:
    fresh, counter = _counting(pack_dir)
    scorer = EmotionScorer(fresh, margin=MARGIN)
    first = scorer.score(_faces(image))
    second = scorer.score(_faces(image))
    assert first == second
    assert counter.calls == 1
    assert scorer.cache_info().hits == 1 and scorer.cache_info().misses == 1
    scorer.score(_faces(image), labels=["happy", "sad"])
    scorer.score(_faces(image), labels=["happy", "sad"])
    assert counter.calls == 2
    assert scorer.cache_info().size == 2


def test_concurrent_first_requests_fill_the_cache_once(pack_dir: Path) -> None:
    fresh, counter = _counting(pack_dir)
    scorer = EmotionScorer(fresh)
    out: list[np.ndarray] = []
    threads = [
        threading.Thread(target=lambda: out.append(scorer.text_classifier())) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter.calls == 1 and len(out) == 4
    assert all(t is out[0] for t in out)


def test_batched_equals_one_by_one(bundle: ClipBundle, image: np.ndarray) -> None:
    scorer = EmotionScorer(bundle, margin=MARGIN)
    batched = scorer.score(_faces(image))
    single = [scorer.score([face])[0] for face in _faces(image)]
    for b, s in zip(batched, single, strict=True):
        assert b.keys() == s.keys()
        # Relative, from float32: a batch runs other GEMM kernels (blocking, SIMD width) than
        # one image, so embeddings differ by a few ulps (eps 1.2e-7); CLIP's logit scale of
        # 100 turns that into ~1e-5 in the logits, i.e. ~1e-5 relative in each probability
        # (d log p = d logit), on any x86 CPU. 1e-4 keeps a 10x margin; a face mixed up with
        # another in the batch moves its probabilities by far more.
        np.testing.assert_allclose(list(b.values()), list(s.values()), rtol=1e-4, atol=0)


def test_score_crops_equals_score_on_the_same_crops(bundle: ClipBundle, image: np.ndarray) -> None:
    scorer = EmotionScorer(bundle, margin=MARGIN)
    crops = [crop_face(image, box, MARGIN) for box in BOXES]
    as_pil = scorer.score_crops([Image.fromarray(c) for c in crops])
    as_array = scorer.score_crops(crops)
    assert as_pil == as_array
    np.testing.assert_allclose(
        [list(r.values()) for r in as_array],
        [list(r.values()) for r in scorer.score(_faces(image))],
        rtol=1e-4,  # float32 through CLIP's logit scale, as in test_batched_equals_one_by_one
        atol=0,
    )
    assert scorer.score_crops([]) == []


def test_scores_are_deterministic_across_loads(pack_dir: Path, image: np.ndarray) -> None:
    first = EmotionScorer(load_clip(pack_dir, device="cpu"), margin=MARGIN).score(_faces(image))
    second = EmotionScorer(load_clip(pack_dir, device="cpu"), margin=MARGIN).score(_faces(image))
    assert first == second


def test_margin_box_geometry() -> None:
    # 100 x 120 box, 25 % margin: 25 px left/right, 30 px top/bottom.
    assert margin_box((100, 50, 200, 170), 0.25, 1280, 886) == (75, 20, 225, 200)
    # Fractional edges round outwards.
    assert margin_box((10.4, 20.6, 50.2, 60.9), 0.0, 1280, 886) == (10, 20, 51, 61)
    # Clipped at the top-left and bottom-right edges.
    assert margin_box((10, 5, 110, 85), 0.25, 1280, 886) == (0, 0, 135, 105)
    assert margin_box((1200, 800, 1280, 886), 0.25, 1280, 886) == (1180, 778, 1280, 886)


def test_crop_face_is_the_rgb_margin_crop(image: np.ndarray) -> None:
    crop = crop_face(image, np.array([100, 50, 200, 170], dtype=np.float32), 0.25)
    assert crop.shape == (180, 150, 3) and crop.flags.c_contiguous
    np.testing.assert_array_equal(crop, image[20:200, 75:225, ::-1])


@pytest.mark.parametrize(
    "box",
    [(50, 50, 50, 80), (60, 50, 40, 80), (2000, 50, 2100, 80), (float("nan"), 0, 10, 10)],
)
def test_bad_boxes_are_refused(image: np.ndarray, box: tuple[float, ...]) -> None:
    with pytest.raises(InvalidFaceBoxError) as info:
        crop_face(image, box, 0.25)
    assert info.value.code == "invalid_face_box" and info.value.status == 422


@pytest.mark.parametrize(
    "labels",
    [[], [f"l{i}" for i in range(33)], ["happy", " "], ["happy", "Happy"], ["x" * 65], "happy"],
)
def test_bad_label_sets_are_refused(bundle: ClipBundle, image: np.ndarray, labels: Any) -> None:
    scorer = EmotionScorer(bundle)
    with pytest.raises(InvalidLabelsError) as info:
        scorer.score(_faces(image), labels=labels)
    assert isinstance(info.value, InvalidInputError)
    assert info.value.code == "invalid_emotion_labels" and info.value.status == 422
    assert scorer.cache_info().misses == 0  # refused before any model work


def test_thirty_two_labels_of_64_chars_are_accepted(bundle: ClipBundle, image: np.ndarray) -> None:
    labels = [f"{i:02d}" + "x" * 62 for i in range(32)]
    (result,) = EmotionScorer(bundle).score([(image, BOXES[0])], labels=labels)
    assert list(result) == labels


def test_images_that_are_not_uint8_bgr_are_refused(image: np.ndarray) -> None:
    with pytest.raises(InvalidInputError):
        crop_face(image[:, :, 0], BOXES[0], MARGIN)
    with pytest.raises(InvalidInputError):
        crop_face(image.astype(np.float32), BOXES[0], MARGIN)
