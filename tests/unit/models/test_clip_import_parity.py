"""A ViT-B-32 checkpoint (the realistic profile's seeded weights, written to a folder as a
downloaded one would be) through `python -m models import`: the stored export scores real
faces as open_clip's own zero-shot classification does (1e-4, same top label)."""

from __future__ import annotations

from pathlib import Path

import pytest

from facereid.config import DEFAULT_EMOTION_LABELS
from facereid.emotion.clip_model import load_clip
from models.clip_torch import load_torch_clip
from models.store import CLIP_MODEL_NAME, find_model
from models.synth.clip import CHECKPOINT_FILE, write_clip_pack
from tests.unit.facereid.emotion.test_parity import LABEL_SETS, assert_parity, real_face_crops
from tests.unit.models.conftest import RunCli


@pytest.mark.slow
def test_imported_vit_b_32_matches_open_clip(
    store: Path, tmp_path: Path, run_cli: RunCli, t1_path: Path, request: pytest.FixtureRequest
) -> None:
    folder = tmp_path / "vit-b-32"
    write_clip_pack(folder, seed=7, profile="realistic")
    result = run_cli(
        "import", "--clip-checkpoint", str(folder / CHECKPOINT_FILE), "--clip-model", "ViT-B-32",
        "--clip-pretrained", "openai",
    )  # fmt: skip
    assert result.code == 0, result.err
    stored = find_model(CLIP_MODEL_NAME)
    assert stored is not None
    bundle = load_clip(Path(stored.path), device="cpu")
    assert (bundle.model_name, bundle.embed_dim, bundle.image_size) == ("ViT-B-32", 512, 224)
    # The reference: the same checkpoint in open_clip's own built-in ViT-B-32 (OpenAI's
    # preprocessing constants, as the "openai" tag and the default agree on them).
    clip = load_torch_clip(folder, device="cpu")
    try:
        faces = request.getfixturevalue("shared_faces")
    except pytest.skip.Exception:
        faces = None
    crops = real_face_crops(t1_path, faces)
    for labels in LABEL_SETS:
        assert_parity(bundle, clip, crops, labels)
    assert list(DEFAULT_EMOTION_LABELS) == LABEL_SETS[0]
