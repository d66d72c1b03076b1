"""Load an open_clip checkpoint with torch: the export's source, and the reference that the
ONNX serving path (``facereid.emotion.clip_model``) is tested against. Provisioning only:
the serving image has no torch.

A checkpoint folder holds ``open_clip_config.json`` and one checkpoint (the store layout before
the ONNX export, which ``python -m models ensure`` converts). The config takes one of three
forms, so pulled, imported and synthetic packs load the same way:

- ``{"model_name": "ViT-B-32", "pretrained": "..."}``: an open_clip built-in architecture;
- ``{"model_name": ..., "pretrained": ..., "embed_dim": ..., "vision_cfg": ..., "text_cfg": ...}``:
  a full architecture, registered in open_clip's config registry under ``model_name``;
- Hugging Face's ``{"model_cfg": {...}, "preprocess_cfg": {...}}`` (plus optional ``model_name``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from facereid.errors import ModelNotAvailableError, ModelSignatureError

logger = logging.getLogger(__name__)

CLIP_CONFIG_FILE = "open_clip_config.json"
ARCHITECTURE_KEYS = ("embed_dim", "vision_cfg", "text_cfg")
# Keys of ours in the config file that open_clip's model constructor does not take.
PACK_KEYS = ("model_name", "pretrained", "model_cfg", "preprocess_cfg", "checkpoint_file")
# open_clip's own preference among checkpoint names in a folder (factory._find_checkpoint_in_dir).
CHECKPOINT_NAMES = (
    "open_clip_model.safetensors",
    "open_clip_pytorch_model.safetensors",
    "open_clip_pytorch_model.bin",
    "open_clip_pytorch_model.pth",
    "model.safetensors",
    "pytorch_model.bin",
    "pytorch_model.pth",
    "model.pth",
)


@dataclass(frozen=True)
class TorchClip:
    """A loaded CLIP model in eval mode with its own image transform and tokenizer."""

    model: Any  # open_clip.CLIP (or CustomTextCLIP)
    preprocess: Callable[[Image.Image], torch.Tensor]
    tokenizer: Callable[[Sequence[str]], torch.Tensor]
    model_name: str
    pretrained: str
    device: torch.device
    image_size: int
    embed_dim: int
    registry_name: str
    preprocess_cfg: Mapping[str, Any]


class BatchPreprocess:
    """The bundle's own eval transform for a batch of crops, with its last two steps
    (to-tensor, normalise) done once on the whole uint8 batch.

    The resize and crop stay PIL operations from the same transform, and the float steps are
    the same elementwise CPU operations in the same order, so the batch equals stacking the
    per-crop transform bit for bit (on the GPU the same steps differ by up to 5e-7, hence CPU
    then one copy); an unrecognised transform runs per crop as it is.
    """

    def __init__(
        self,
        preprocess: Callable[[Image.Image], torch.Tensor],
        device: torch.device,
        pool: Executor | None = None,
    ):
        """``pool``: threads for the per-crop geometry (Pillow's resize releases the GIL), so
        a batch's crops are resized side by side instead of one after another in front of
        the model (on a GPU the resize, not the tower, set the pace: docs/benchmarks.md)."""
        from torchvision import transforms

        self.preprocess = preprocess
        self.device = device
        self.pool = pool
        self.geometry: Callable[[Image.Image], Image.Image] | None = None
        steps = list(getattr(preprocess, "transforms", []))
        if (
            len(steps) >= 2
            and isinstance(steps[-2], transforms.ToTensor)
            and isinstance(steps[-1], transforms.Normalize)
        ):
            self.geometry = transforms.Compose(steps[:-2])
            shape = (1, -1, 1, 1)
            self.mean = torch.as_tensor(steps[-1].mean, dtype=torch.float32).view(shape)
            self.std = torch.as_tensor(steps[-1].std, dtype=torch.float32).view(shape)

    def __call__(self, images: Sequence[Image.Image]) -> torch.Tensor:
        if self.geometry is None:
            return torch.stack([self.preprocess(image) for image in images]).to(self.device)
        geometry = self.geometry

        def shaped(image: Image.Image) -> np.ndarray:
            return np.asarray(geometry(image), dtype=np.uint8)

        if self.pool is not None and len(images) > 1:
            pixels = np.stack(list(self.pool.map(shaped, images)))
        else:
            pixels = np.stack([shaped(image) for image in images])
        batch = torch.from_numpy(pixels).permute(0, 3, 1, 2).to(torch.float32).div(255)
        return batch.sub_(self.mean).div_(self.std).to(self.device)


def register_model_config(name: str, config: Mapping[str, Any]) -> str:
    """Put an architecture into open_clip's config registry; returns the name to create it by.

    A name that open_clip already knows with a different architecture gets a suffix from the
    config's hash, so a built-in config is never replaced.
    """
    from open_clip import factory

    architecture = {k: v for k, v in config.items() if k not in PACK_KEYS}
    missing = [k for k in ARCHITECTURE_KEYS if k not in architecture]
    if missing:
        raise ModelSignatureError(f"CLIP config for {name!r} lacks {', '.join(missing)}")
    registry_name = name.replace("/", "-")
    known = factory.get_model_config(registry_name)
    if known is not None and known != architecture:
        digest = hashlib.sha256(json.dumps(architecture, sort_keys=True).encode()).hexdigest()
        registry_name = f"{registry_name}-facereid-{digest[:10]}"
    # The registry is a module global that open_clip re-reads on every lookup.
    factory._MODEL_CONFIGS[registry_name] = json.loads(json.dumps(architecture))
    return registry_name


def find_checkpoint(pack_dir: Path, config: Mapping[str, Any]) -> Path:
    named = config.get("checkpoint_file")
    candidates = [pack_dir / str(named)] if named else [pack_dir / n for n in CHECKPOINT_NAMES]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ModelNotAvailableError(
        f"no CLIP checkpoint in {pack_dir} (looked for {CHECKPOINT_NAMES})"
    )


def resolve_device(device: str | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def load_torch_clip(pack_dir: Path, device: str | None = None) -> TorchClip:
    """Create the model with open_clip's own code and load the folder's checkpoint into it."""
    import open_clip

    config_path = pack_dir / CLIP_CONFIG_FILE
    if not config_path.is_file():
        raise ModelNotAvailableError(f"no {CLIP_CONFIG_FILE} in {pack_dir}")
    try:
        config: dict[str, Any] = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelSignatureError(f"{config_path} is not readable JSON: {exc}") from exc

    architecture = config.get("model_cfg") or (
        config if all(k in config for k in ARCHITECTURE_KEYS) else None
    )
    model_name = str(config.get("model_name") or "")
    if architecture is not None:
        registry_name = register_model_config(model_name or "facereid-clip", architecture)
    elif model_name in open_clip.list_models():
        registry_name = model_name
    else:
        raise ModelSignatureError(
            f"{config_path} names no open_clip architecture ({model_name!r}) and carries none"
        )
    checkpoint = find_checkpoint(pack_dir, config)
    target = resolve_device(device)
    preprocess_cfg: Mapping[str, Any] = config.get("preprocess_cfg") or {}
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            registry_name,
            pretrained=str(checkpoint),
            device=target,
            image_mean=preprocess_cfg.get("mean"),
            image_std=preprocess_cfg.get("std"),
            image_interpolation=preprocess_cfg.get("interpolation"),
            image_resize_mode=preprocess_cfg.get("resize_mode"),
        )
    except (RuntimeError, KeyError, ValueError) as exc:
        raise ModelSignatureError(f"{checkpoint} does not fit {registry_name}: {exc}") from exc
    model.eval()
    size = model.visual.image_size
    logger.info(
        "loaded CLIP %s (%s) from %s on %s", registry_name, checkpoint.name, pack_dir, target
    )
    return TorchClip(
        model=model,
        preprocess=preprocess,
        tokenizer=open_clip.get_tokenizer(registry_name),
        model_name=model_name or registry_name,
        pretrained=str(config.get("pretrained") or ""),
        device=target,
        image_size=int(size if isinstance(size, int) else size[0]),
        embed_dim=int(open_clip.get_model_config(registry_name)["embed_dim"]),
        registry_name=registry_name,
        preprocess_cfg=dict(preprocess_cfg),
    )
