"""Loading a facereid-clip store folder with open_clip's own code, and batched preprocessing."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch
from PIL import Image

from facereid.emotion.clip_model import (
    BatchPreprocess,
    ClipBundle,
    load_clip,
    register_model_config,
)
from facereid.emotion.scorer import preprocess_threads
from facereid.errors import ModelNotAvailableError


def test_bundle_describes_the_model(bundle: ClipBundle) -> None:
    assert bundle.model_name == "facereid-synth-ViT-tiny-32"
    assert bundle.pretrained == "synthetic-seed0"
    assert (bundle.image_size, bundle.embed_dim) == (224, 64)
    assert str(bundle.device) == "cpu" and not bundle.model.training


@pytest.mark.parametrize("threads", [0, 3])
def test_batch_preprocess_equals_the_per_crop_transform(bundle: ClipBundle, threads: int) -> None:
    """Bit for bit, and in input order when a pool resizes the crops side by side."""
    rng = np.random.default_rng(0)
    sizes = [(37, 50), (300, 120), (224, 224), (9, 400), (640, 480), (120, 90)]
    crops = [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in sizes]
    with ThreadPoolExecutor(threads or 1) as pool:
        batched = BatchPreprocess(bundle.preprocess, bundle.device, pool if threads else None)
        assert batched.geometry is not None  # the vectorised path, not the fallback
        expected = torch.stack([bundle.preprocess(c) for c in crops])
        assert torch.equal(batched(crops), expected)
        assert torch.equal(batched(crops[:1]), expected[:1])  # a lone crop skips the pool


def test_preprocess_threads_auto_is_one_per_core_up_to_eight() -> None:
    assert [preprocess_threads(0, cores) for cores in (1, 2, 16)] == [1, 2, 8]
    assert preprocess_threads(3, cores=16) == 3


def test_batch_preprocess_falls_back_for_an_unknown_transform(bundle: ClipBundle) -> None:
    def transform(image: Image.Image) -> torch.Tensor:
        return torch.from_numpy(np.asarray(image.resize((8, 8)), dtype=np.float32))

    batched = BatchPreprocess(transform, torch.device("cpu"))
    assert batched.geometry is None
    assert batched([Image.new("RGB", (20, 10))] * 3).shape == (3, 8, 8, 3)


def test_hugging_face_style_config_loads_the_same_model(
    pack_dir: Path, bundle: ClipBundle, tmp_path: Path
) -> None:
    config = json.loads((pack_dir / "open_clip_config.json").read_text())
    arch = {k: config[k] for k in ("embed_dim", "vision_cfg", "text_cfg")}
    hf_dir = tmp_path / "hf"
    hf_dir.mkdir()
    (hf_dir / "open_clip_config.json").write_text(
        json.dumps({"model_cfg": arch, "preprocess_cfg": {"mean": [0.5] * 3, "std": [0.5] * 3}})
    )
    shutil.copy(pack_dir / "open_clip_model.safetensors", hf_dir)
    loaded = load_clip(hf_dir, device="cpu")
    for key, value in loaded.model.state_dict().items():
        assert torch.equal(value, bundle.model.state_dict()[key])
    blank = Image.new("RGB", (224, 224), (128, 128, 128))
    assert float(loaded.preprocess(blank).abs().max()) < 0.01  # (128/255 - 0.5) / 0.5


def test_missing_files_raise_model_not_available(pack_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelNotAvailableError):
        load_clip(tmp_path, device="cpu")
    shutil.copy(pack_dir / "open_clip_config.json", tmp_path)
    with pytest.raises(ModelNotAvailableError, match="checkpoint"):
        load_clip(tmp_path, device="cpu")


def test_registering_never_replaces_a_builtin_config(pack_dir: Path) -> None:
    config = json.loads((pack_dir / "open_clip_config.json").read_text())
    builtin = open_clip.get_model_config("ViT-B-32")
    name = register_model_config("ViT-B-32", config)
    assert name.startswith("ViT-B-32-facereid-")
    assert open_clip.get_model_config("ViT-B-32") == builtin
    assert register_model_config("ViT-B-32", builtin) == "ViT-B-32"
