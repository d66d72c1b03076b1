"""The synthetic CLIP pack: byte-identical per seed, loadable by open_clip's own code."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import open_clip
import pytest
import torch
from safetensors.torch import load_file

from models.synth.clip import CHECKPOINT_FILE, profile_config, write_clip_pack

CONFIG_FILE = "open_clip_config.json"


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    dest = tmp_path_factory.mktemp("clip") / "seed0"
    return dest, write_clip_pack(dest, seed=0)


def test_same_seed_gives_byte_identical_files(
    pack: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    first, meta = pack
    again = write_clip_pack(tmp_path / "again", seed=0)
    for name in (CONFIG_FILE, CHECKPOINT_FILE):
        assert (first / name).read_bytes() == (tmp_path / "again" / name).read_bytes()
        digest = hashlib.sha256((first / name).read_bytes()).hexdigest()
        assert meta["files"] == again["files"]
        assert meta["files"][name] == digest  # type: ignore[index]


def test_other_seed_gives_other_weights(
    pack: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    first, _ = pack
    other = write_clip_pack(tmp_path / "seed1", seed=1)
    assert other["pretrained"] == "synthetic-seed1"
    a, b = load_file(first / CHECKPOINT_FILE), load_file(tmp_path / "seed1" / CHECKPOINT_FILE)
    assert a.keys() == b.keys()
    assert not torch.equal(a["visual.conv1.weight"], b["visual.conv1.weight"])


def test_metadata_follows_the_store_contract(pack: tuple[Path, dict[str, object]]) -> None:
    _, meta = pack
    assert meta["model_name"] == "facereid-synth-ViT-tiny-32"
    assert meta["config_file"] == CONFIG_FILE and meta["checkpoint_file"] == CHECKPOINT_FILE
    assert meta["image_size"] == 224 and meta["embed_dim"] == 64
    files = meta["files"]
    assert isinstance(files, dict) and set(files) == {CONFIG_FILE, CHECKPOINT_FILE}


def test_config_is_a_full_open_clip_config(pack: tuple[Path, dict[str, object]]) -> None:
    dest, meta = pack
    config = json.loads((dest / CONFIG_FILE).read_text())
    assert config["model_name"] == meta["model_name"]
    assert config["pretrained"] == "synthetic-seed0"
    assert {"embed_dim", "vision_cfg", "text_cfg"} <= config.keys()
    assert config["vision_cfg"]["image_size"] == 224 and config["vision_cfg"]["patch_size"] == 32
    assert config["text_cfg"]["vocab_size"] == 49408 and config["text_cfg"]["context_length"] == 77


def test_checkpoint_loads_strictly_through_open_clip_create_model(
    pack: tuple[Path, dict[str, object]],
) -> None:
    dest, meta = pack
    name = str(meta["model_name"])
    # write_clip_pack registered the architecture in open_clip's own registry.
    assert name in open_clip.list_models()
    config = json.loads((dest / CONFIG_FILE).read_text())
    architecture = {k: v for k, v in config.items() if k not in ("model_name", "pretrained")}
    assert open_clip.get_model_config(name) == architecture
    model = open_clip.create_model(name, pretrained=str(dest / CHECKPOINT_FILE))  # strict load
    saved = load_file(dest / CHECKPOINT_FILE)
    for key, value in model.state_dict().items():
        assert torch.equal(value, saved[key]), key
    assert float(model.logit_scale.detach().exp()) == pytest.approx(100.0, rel=1e-5)


def test_realistic_profile_is_open_clips_vit_b_32() -> None:
    name, config = profile_config("realistic")
    builtin = Path(open_clip.__file__).parent / "model_configs" / "ViT-B-32.json"
    assert name == "ViT-B-32"
    assert config == json.loads(builtin.read_text())


def test_unknown_profile_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown CLIP profile"):
        write_clip_pack(tmp_path, profile="huge")


def _vit_image_tower_macs(config: dict[str, object]) -> int:
    """Hand count: patch conv, per layer 12*d^2*N (qkv, out, 4x MLP) + 2*N^2*d, projection."""
    vision = config["vision_cfg"]
    assert isinstance(vision, dict)
    side, patch, width, layers = (
        vision["image_size"],
        vision["patch_size"],
        vision["width"],
        vision["layers"],
    )
    patches = (side // patch) ** 2
    tokens = patches + 1
    conv = patches * width * 3 * patch * patch
    per_layer = 12 * width * width * tokens + 2 * tokens * tokens * width
    return int(conv + layers * per_layer + width * int(config["embed_dim"]))  # type: ignore[call-overload]


def test_flop_count_matches_a_hand_count(pack: tuple[Path, dict[str, object]]) -> None:
    _, meta = pack
    _, config = profile_config("tiny")
    macs = _vit_image_tower_macs(config)
    assert meta["image_encoder_gmacs"] == pytest.approx(macs / 1e9, abs=1e-4)
    assert meta["image_encoder_gflops"] == pytest.approx(2 * macs / 1e9, abs=1e-4)
    # The same hand count gives the published ~4.4 G(MAC)s for ViT-B/32's image tower.
    assert _vit_image_tower_macs(profile_config("realistic")[1]) / 1e9 == pytest.approx(
        4.41, abs=0.01
    )
