"""Synthetic open_clip pack: open_clip's own CLIP model code with seeded random weights.

Real CLIP weights cannot be downloaded everywhere; this writes a checkpoint folder (config +
checkpoint) exactly like a pulled one, which ``python -m models synth`` then exports to ONNX
(models/clip_export.py) like any other, so the emotion path runs end to end. Scores from random
weights mean nothing; speed and shapes of the ``realistic`` profile match ViT-B-32.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
from pathlib import Path
from typing import Any

import open_clip
import torch
from safetensors.torch import save_file
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from models.clip_torch import CLIP_CONFIG_FILE, register_model_config

logger = logging.getLogger(__name__)

CHECKPOINT_FILE = "open_clip_model.safetensors"
REALISTIC_BASE = "ViT-B-32"
# Trained CLIP checkpoints end with the logit scale at its clamp (exp = 100); open_clip's
# random init (1/0.07) would give much flatter softmax outputs than the real model.
TRAINED_LOGIT_SCALE = math.log(100.0)

# Same preprocessing as ViT-B-32 (224 px, patch 32), tiny towers: a ~13 MB file that builds
# in well under a second. The vocabulary stays 49408 so open_clip's BPE tokenizer fits it.
TINY_CONFIG: dict[str, Any] = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 224, "layers": 2, "width": 64, "head_width": 32, "patch_size": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}
PROFILES = ("tiny", "realistic")


def profile_config(profile: str) -> tuple[str, dict[str, Any]]:
    """(model name, open_clip architecture config) of a synthetic profile."""
    if profile == "tiny":
        return "facereid-synth-ViT-tiny-32", copy.deepcopy(TINY_CONFIG)
    if profile == "realistic":
        config = open_clip.get_model_config(REALISTIC_BASE)
        if config is None:
            raise RuntimeError(f"open_clip has no built-in {REALISTIC_BASE} config")
        return REALISTIC_BASE, dict(config)
    raise ValueError(f"unknown CLIP profile {profile!r}; choose one of {PROFILES}")


def build_seeded_model(model_name: str, config: dict[str, Any], seed: int) -> Any:
    """open_clip's own ``create_model`` on a registered config, with seeded random weights."""
    registered = register_model_config(model_name, config)
    with torch.random.fork_rng(devices=[]):  # leave the caller's RNG state alone
        torch.manual_seed(seed)
        model = open_clip.create_model(registered, pretrained=None, device="cpu")
    with torch.no_grad():
        model.logit_scale.fill_(TRAINED_LOGIT_SCALE)
    return model.eval()


def image_encoder_flops(model: Any) -> int:
    """FLOPs of one image through the image tower (FlopCounterMode: 2 FLOPs per MAC).

    Grad mode keeps nn.MultiheadAttention off its fused inference path and the math SDPA
    backend splits attention into matmuls: the counter sees neither fused kernel, and with
    them it misses the q/k/v projections and attention (5.9 instead of 8.8 GFLOPs for B/32).
    """
    size = model.visual.image_size
    height, width = (size, size) if isinstance(size, int) else size
    image = torch.zeros(1, 3, height, width)
    counter = FlopCounterMode(display=False)
    with counter, torch.enable_grad(), sdpa_kernel(SDPBackend.MATH):
        model.encode_image(image)
    return int(counter.get_total_flops())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_clip_pack(dest: Path, *, seed: int = 0, profile: str = "tiny") -> dict[str, object]:
    """Write ``open_clip_config.json`` and a safetensors checkpoint into ``dest``.

    The same seed and profile give byte-identical files. Returns the store metadata
    (model_name, pretrained, image_size, embed_dim, files -> sha256, config_file,
    checkpoint_file) plus the image tower's FLOPs per image.
    """
    model_name, config = profile_config(profile)
    pretrained = f"synthetic-seed{seed}"
    model = build_seeded_model(model_name, config, seed)

    dest.mkdir(parents=True, exist_ok=True)
    config_path = dest / CLIP_CONFIG_FILE
    checkpoint_path = dest / CHECKPOINT_FILE
    document = {"model_name": model_name, "pretrained": pretrained, **config}
    config_path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    save_file(tensors, str(checkpoint_path), metadata={"format": "pt"})

    flops = image_encoder_flops(model)
    image_size = config["vision_cfg"]["image_size"]
    metadata: dict[str, object] = {
        "model_name": model_name,
        "pretrained": pretrained,
        "profile": profile,
        "seed": seed,
        "image_size": int(image_size if isinstance(image_size, int) else image_size[0]),
        "embed_dim": int(config["embed_dim"]),
        "config_file": CLIP_CONFIG_FILE,
        "checkpoint_file": CHECKPOINT_FILE,
        "files": {p.name: _sha256(p) for p in (config_path, checkpoint_path)},
        "image_encoder_gflops": round(flops / 1e9, 4),
        "image_encoder_gmacs": round(flops / 2e9, 4),
        "parameters": sum(t.numel() for t in tensors.values()),
    }
    logger.info(
        "wrote synthetic CLIP %s (%s, seed %d) to %s: %.3f GFLOPs per image",
        model_name,
        profile,
        seed,
        dest,
        flops / 1e9,
    )
    return metadata
