"""Loading an exported facereid-clip store folder with ONNX Runtime, and the numpy preprocessing
against open_clip's own eval transform."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnx
import open_clip
import pytest
import torch
from onnx import TensorProto, helper
from PIL import Image

from facereid.emotion.clip_model import (
    CLIP_ONNX_FILE,
    TEXTUAL_FILE,
    VISUAL_FILE,
    ClipBundle,
    ImageTransform,
    load_clip,
)
from facereid.emotion.scorer import preprocess_threads
from facereid.errors import ModelNotAvailableError, ModelSignatureError

SIZES = [(37, 50), (300, 120), (224, 224), (9, 400), (640, 480), (120, 90), (225, 224)]


def _crops() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in SIZES]


def test_bundle_describes_the_model(bundle: ClipBundle) -> None:
    assert bundle.model_name == "facereid-synth-ViT-tiny-32"
    assert bundle.pretrained == "synthetic-seed0"
    assert (bundle.image_size, bundle.embed_dim, bundle.context_length) == (224, 64, 77)
    assert bundle.device == "cpu" and bundle.token_type is np.int32
    assert bundle.logit_scale == pytest.approx(100.0, rel=1e-5)


@pytest.mark.parametrize("threads", [0, 3])
def test_preprocess_equals_open_clips_transform_bit_for_bit(
    bundle: ClipBundle, threads: int
) -> None:
    """Every crop shape (portrait, landscape, smaller and larger than 224, one pixel off
    square) as open_clip's transform makes it, in input order when a pool resizes."""
    reference = open_clip.image_transform(224, is_train=False)
    crops = _crops()
    expected = torch.stack([reference(c) for c in crops]).numpy()
    with ThreadPoolExecutor(threads or 1) as pool:
        got = bundle.preprocess(crops, pool if threads else None)
        assert got.dtype == np.float32 and got.shape == (len(SIZES), 3, 224, 224)
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(bundle.preprocess(crops[:1], pool), expected[:1])


@pytest.mark.parametrize(
    ("mode", "interpolation"), [("squash", "bilinear"), ("shortest", "bilinear")]
)
def test_other_resize_modes_equal_open_clip(mode: str, interpolation: str) -> None:
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    reference = open_clip.image_transform(
        64, is_train=False, mean=mean, std=std, resize_mode=mode, interpolation=interpolation
    )
    transform = ImageTransform(64, mode, interpolation, mean, std)
    crops = _crops()
    got = transform.normalise(np.stack([transform.geometry(c) for c in crops]))
    np.testing.assert_array_equal(got, torch.stack([reference(c) for c in crops]).numpy())


def test_preprocess_threads_auto_is_one_per_core_up_to_eight() -> None:
    assert [preprocess_threads(0, cores) for cores in (1, 2, 16)] == [1, 2, 8]
    assert preprocess_threads(3, cores=16) == 3


def test_towers_take_any_batch_size(bundle: ClipBundle) -> None:
    """BentoML's adaptive batching sends 1..max_batch_size crops: the batch axis is dynamic."""
    for n in (1, 3, 33):
        pixels = np.zeros((n, 3, 224, 224), dtype=np.float32)
        assert bundle.encode_image(pixels).shape == (n, 64)
        assert bundle.encode_text(bundle.tokenize(["a"] * n)).shape == (n, 64)


def test_old_checkpoint_only_folder_says_how_to_convert(
    checkpoint_dir: Path, tmp_path: Path
) -> None:
    old = tmp_path / "old"
    shutil.copytree(checkpoint_dir, old)
    with pytest.raises(ModelNotAvailableError, match="old checkpoint-only format") as info:
        load_clip(old)
    assert "python -m models ensure" in info.value.message


def test_missing_files_raise_model_not_available(pack_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelNotAvailableError):
        load_clip(tmp_path)
    shutil.copy(pack_dir / CLIP_ONNX_FILE, tmp_path)
    with pytest.raises(ModelNotAvailableError, match=VISUAL_FILE):
        load_clip(tmp_path)


def test_another_format_version_is_refused(pack_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "v2"
    shutil.copytree(pack_dir, folder)
    config = json.loads((folder / CLIP_ONNX_FILE).read_text())
    (folder / CLIP_ONNX_FILE).write_text(json.dumps(dict(config, format_version=2)))
    with pytest.raises(ModelSignatureError, match="format_version 2"):
        load_clip(folder)


def _identity_model(input_name: str, shape: list[str | int], dtype: int) -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("Identity", [input_name], ["embedding"])],
        "wrong",
        [helper.make_tensor_value_info(input_name, dtype, shape)],
        [helper.make_tensor_value_info("embedding", dtype, shape)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize(
    ("file_name", "model"),
    [
        (VISUAL_FILE, _identity_model("image", ["n", 3, 224, 224], TensorProto.FLOAT)),
        (VISUAL_FILE, _identity_model("image", ["n", 64], TensorProto.FLOAT)),
        (TEXTUAL_FILE, _identity_model("text", ["n", 64], TensorProto.FLOAT)),
        (TEXTUAL_FILE, _identity_model("tokens", ["n", 77], TensorProto.INT32)),
    ],
)
def test_an_onnx_file_with_the_wrong_signature_is_refused(
    pack_dir: Path, tmp_path: Path, file_name: str, model: onnx.ModelProto
) -> None:
    folder = tmp_path / "wrong"
    shutil.copytree(pack_dir, folder)
    onnx.save(model, str(folder / file_name))
    with pytest.raises(ModelSignatureError, match=file_name) as info:
        load_clip(folder)
    assert info.value.code == "model_signature_mismatch"


def test_garbage_onnx_file_is_refused(pack_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "garbage"
    shutil.copytree(pack_dir, folder)
    (folder / TEXTUAL_FILE).write_bytes(b"not an onnx model" * 100)
    with pytest.raises(ModelSignatureError, match="not a loadable ONNX model"):
        load_clip(folder)
