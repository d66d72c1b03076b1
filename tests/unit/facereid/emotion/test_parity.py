"""The ONNX emotion scorer against open_clip's own zero-shot classification (the torch model,
``open_clip.build_zero_shot_classifier``, open_clip's transform) on real faces: probabilities
within 1e-4 absolute on CPU fp32, and the same top label."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import open_clip
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from facereid.config import DEFAULT_EMOTION_LABELS
from facereid.emotion.clip_model import ClipBundle
from facereid.emotion.crops import crop_face, prompt_word
from facereid.emotion.scorer import DEFAULT_TEMPLATES, EmotionScorer
from models.clip_torch import TorchClip, load_torch_clip

# Face regions of insightface's t1.jpg (1280 x 886), with the scorer's own margin.
T1_FACES = [(100.0, 50.0, 200.0, 170.0), (10.0, 5.0, 110.0, 85.0), (1200.0, 800.0, 1280.0, 886.0)]
MARGIN = 0.25
# CPU fp32, the same graph in ORT and torch: embeddings ~1e-6 apart, times a logit scale of
# 100 is ~1e-4 in the logits at worst; probabilities move by p(1-p) of that.
TOLERANCE = 1e-4
LABEL_SETS = [list(DEFAULT_EMOTION_LABELS), ["calm", "Excited", "anger", "bored"]]


def real_face_crops(t1_path: Path, shared_faces: Path | None) -> list[Image.Image]:
    image = np.asarray(cv2.imread(str(t1_path)), dtype=np.uint8)
    assert image.ndim == 3
    crops = [Image.fromarray(crop_face(image, box, MARGIN)) for box in T1_FACES]
    if shared_faces is not None:  # one portrait per person: one face per image
        for person in sorted((shared_faces / "identities").iterdir()):
            first = sorted(person.iterdir())[0]
            crops.append(Image.open(first).convert("RGB"))
    return crops


def open_clip_zero_shot(
    clip: TorchClip, crops: Sequence[Image.Image], labels: Sequence[str]
) -> np.ndarray:
    """open_clip's own zero-shot classification: its classifier builder, its transform."""
    with torch.no_grad():
        weights = open_clip.build_zero_shot_classifier(
            clip.model,
            clip.tokenizer,
            [prompt_word(label) for label in labels],
            DEFAULT_TEMPLATES,
            device="cpu",
        )
        batch = torch.stack([clip.preprocess(crop) for crop in crops])
        features = F.normalize(clip.model.encode_image(batch), dim=-1)
        logits = clip.model.logit_scale.exp() * features @ weights
        probabilities: np.ndarray = logits.softmax(dim=-1).numpy()
        return probabilities


def assert_parity(
    bundle: ClipBundle, clip: TorchClip, crops: Sequence[Image.Image], labels: Sequence[str]
) -> float:
    """Returns the largest absolute difference (for the docs' parity numbers)."""
    expected = open_clip_zero_shot(clip, crops, labels)
    results = EmotionScorer(bundle, labels).score_crops(list(crops))
    got = np.array([[r[label] for label in labels] for r in results])
    np.testing.assert_allclose(got, expected, atol=TOLERANCE, rtol=0)
    assert got.argmax(axis=1).tolist() == expected.argmax(axis=1).tolist()
    return float(np.abs(got - expected).max())


@pytest.fixture(scope="module")
def torch_clip(checkpoint_dir: Path) -> TorchClip:
    return load_torch_clip(checkpoint_dir, device="cpu")


@pytest.mark.parametrize("labels", LABEL_SETS, ids=["default", "custom"])
def test_tiny_synthetic_export_matches_open_clip(
    bundle: ClipBundle, torch_clip: TorchClip, t1_path: Path, labels: list[str]
) -> None:
    crops = real_face_crops(t1_path, None)
    assert_parity(bundle, torch_clip, crops, labels)


@pytest.mark.testdata
def test_tiny_synthetic_export_matches_open_clip_on_portraits(
    bundle: ClipBundle, torch_clip: TorchClip, t1_path: Path, shared_faces: Path
) -> None:
    crops = real_face_crops(t1_path, shared_faces)
    assert len(crops) == len(T1_FACES) + 6
    assert_parity(bundle, torch_clip, crops, list(DEFAULT_EMOTION_LABELS))


def test_scores_differ_between_faces(bundle: ClipBundle, t1_path: Path) -> None:
    """A parity test that cannot pass by accident: the faces get different distributions."""
    results = EmotionScorer(bundle).score_crops(real_face_crops(t1_path, None))
    assert results[0] != results[1] != results[2]
