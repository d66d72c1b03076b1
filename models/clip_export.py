"""Export an open_clip checkpoint to the files the torch-free emotion service reads.

Runs where torch and open_clip are installed (dev venv, ``models pull``/``import``/``synth``/
``ensure``, ``make image``'s build stage), never in the serving image. Writes into ``dest``:

- ``visual.onnx``: ``image`` float32 [N, 3, S, S] -> ``embedding`` float32 [N, D];
- ``textual.onnx``: ``text`` int32 [N, context] -> ``embedding`` float32 [N, D];
- ``tokenizer.json``: open_clip's SimpleTokenizer for HF ``tokenizers`` (models/clip_tokenizer.py);
- ``clip_onnx.json``: what the serving side needs (facereid/emotion/clip_model.py).

N is dynamic in both towers: BentoML's adaptive batching hands the emotion service any batch
from 1 to its max_batch_size. Embeddings are left unnormalised, as ``encode_image`` /
``encode_text`` return them; the scorer normalises like ``F.normalize``. The export is checked
before it is kept: the ONNX towers against the torch model on probe inputs, the tokenizer
against open_clip's on probe texts, the numpy preprocessing against open_clip's transform.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facereid.emotion.clip_model import (
    CLIP_ONNX_FILE,
    FORMAT_VERSION,
    TEXTUAL_FILE,
    TOKENIZER_FILE,
    VISUAL_FILE,
    ImageTransform,
    load_clip,
)
from models import ModelProvisioningError
from models.clip_tokenizer import build_tokenizer_json
from models.pull import sha256_file

logger = logging.getLogger(__name__)

OPSET = 17  # LayerNormalization is one op from 17 on (fp32 here, as open_clip's LayerNorm)
EXPORTED_FILES = (VISUAL_FILE, TEXTUAL_FILE, TOKENIZER_FILE, CLIP_ONNX_FILE)
PROBE_TEXTS = (
    "a photo of a happy face.",
    "A close-up photo of a person looking SURPRISED!",
    "café, naïve — “quoted” 日本語 😀 " + "long " * 90,
)
# ORT and torch run the same fp32 graph with other kernels: ~1e-6 apart on the tiny
# towers, ~1e-5 on ViT-B-32; a wrong export (a dropped layer, a wrong pooling) is off by O(1).
EMBEDDING_TOLERANCE = 1e-4


@dataclass(frozen=True)
class ClipExport:
    files: dict[str, str]  # file name -> sha256
    model_name: str
    pretrained: str
    image_size: int
    embed_dim: int
    context_length: int


def image_transform_of(preprocess: Any, image_size: int) -> ImageTransform:
    """open_clip's eval transform read back into the plain description the serving side
    applies with PIL and numpy; a transform of another shape is refused."""
    from torchvision import transforms

    steps = list(getattr(preprocess, "transforms", []))
    kinds = [type(step).__name__ for step in steps]
    resize = steps[0] if steps else None
    normalize = steps[-1] if steps else None
    if not isinstance(resize, transforms.Resize) or not isinstance(normalize, transforms.Normalize):
        raise ModelProvisioningError(f"unsupported CLIP image transform {kinds}")
    has_crop = any(isinstance(step, transforms.CenterCrop) for step in steps)
    size = resize.size
    if isinstance(size, int) or (isinstance(size, list | tuple) and len(size) == 1):
        resize_mode = "shortest"
        if not has_crop:
            raise ModelProvisioningError(f"unsupported CLIP image transform {kinds}")
    elif list(size) == [image_size, image_size] and not has_crop:
        resize_mode = "squash"
    else:
        raise ModelProvisioningError(
            f"unsupported CLIP image transform {kinds} (resize {size}); only the 'shortest' "
            f"and 'squash' resize modes of a square image are exported"
        )
    interpolation = str(resize.interpolation.value)
    if interpolation not in ("bicubic", "bilinear"):
        raise ModelProvisioningError(f"unsupported CLIP resize interpolation {interpolation}")
    return ImageTransform(
        image_size=image_size,
        resize_mode=resize_mode,
        interpolation=interpolation,
        mean=tuple(float(v) for v in normalize.mean),
        std=tuple(float(v) for v in normalize.std),
    )


def check_exportable(clip: Any) -> None:
    """The text side must be open_clip's CLIP with its SimpleTokenizer and argmax pooling:
    the exported graph pools at ``text.argmax()``, which is the end token only because
    SimpleTokenizer's <end_of_text> (49407) is its largest id."""
    import open_clip
    from open_clip.tokenizer import SimpleTokenizer

    model, tokenizer = clip.model, clip.tokenizer
    if not isinstance(model, open_clip.CLIP):
        raise ModelProvisioningError(
            f"{clip.model_name}: only open_clip CLIP models with their own text tower are "
            f"exported, not {type(model).__name__}"
        )
    if not isinstance(tokenizer, SimpleTokenizer) or tokenizer.reduction_fn is not None:
        raise ModelProvisioningError(
            f"{clip.model_name}: its tokenizer ({type(tokenizer).__name__}) is not open_clip's "
            f"SimpleTokenizer; only that one has a tokenizer.json export here"
        )
    if model.text_pool_type != "argmax" or tokenizer.eot_token_id != len(tokenizer.encoder) - 1:
        raise ModelProvisioningError(
            f"{clip.model_name}: text pooling {model.text_pool_type!r} with end token "
            f"{tokenizer.eot_token_id} of {len(tokenizer.encoder)}: argmax pooling needs the "
            f"end token to be the largest id"
        )
    vocab = int(model.token_embedding.num_embeddings)
    if vocab < len(tokenizer.encoder):
        raise ModelProvisioningError(
            f"{clip.model_name}: its text tower has {vocab} token embeddings, fewer than the "
            f"{len(tokenizer.encoder)} ids of open_clip's tokenizer"
        )


@contextlib.contextmanager
def _export_mode() -> Iterator[None]:
    """nn.MultiheadAttention's fused inference path has no ONNX form: off while tracing."""
    import torch

    enabled = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad():
            yield
    finally:
        torch.backends.mha.set_fastpath_enabled(enabled)


def export_towers(model: Any, image_size: int, context_length: int, dest: Path) -> None:
    import torch

    class Visual(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.clip = model

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            return self.clip.encode_image(image)  # type: ignore[no-any-return]

    class Textual(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.clip = model

        def forward(self, text: torch.Tensor) -> torch.Tensor:
            # int32 in (what HF tokenizers gives; the ids fit), Long for nn.Embedding.
            return self.clip.encode_text(text.long())  # type: ignore[no-any-return]

    batch = {0: "batch"}
    towers = (
        (Visual(), torch.zeros(2, 3, image_size, image_size), "image", VISUAL_FILE),
        (Textual(), torch.zeros(2, context_length, dtype=torch.int32), "text", TEXTUAL_FILE),
    )
    with _export_mode():
        for module, example, name, file_name in towers:
            torch.onnx.export(
                module.eval(),
                (example,),
                str(dest / file_name),
                input_names=[name],
                output_names=["embedding"],
                dynamic_axes={name: batch, "embedding": batch},
                opset_version=OPSET,
                dynamo=False,  # the TorchScript exporter: one graph, dynamic batch by name
            )


def write_config(clip: Any, transform: ImageTransform, dest: Path) -> dict[str, Any]:
    document: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "model_name": clip.model_name,
        "pretrained": clip.pretrained,
        "image_size": transform.image_size,
        "mean": list(transform.mean),
        "std": list(transform.std),
        "interpolation": transform.interpolation,
        "resize_mode": transform.resize_mode,
        "context_length": int(clip.model.context_length),
        "embed_dim": clip.embed_dim,
        "logit_scale": float(clip.model.logit_scale.detach().exp()),
        "files": {n: sha256_file(dest / n) for n in (VISUAL_FILE, TEXTUAL_FILE, TOKENIZER_FILE)},
    }
    (dest / CLIP_ONNX_FILE).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return document


def _close(got: np.ndarray, want: np.ndarray) -> bool:
    return got.shape == want.shape and bool(
        np.abs(got - want).max() <= EMBEDDING_TOLERANCE * max(1.0, float(np.abs(want).max()))
    )


def verify_export(clip: Any, dest: Path) -> None:
    """The exported files against the torch model, through the serving side's own loader."""
    import torch
    from PIL import Image

    bundle = load_clip(dest, device="cpu")
    rng = np.random.default_rng(0)
    probes = [
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        for h, w in ((300, 200), (64, 90))
    ]
    pixels = bundle.preprocess(probes)
    reference = torch.stack([clip.preprocess(p) for p in probes]).numpy()
    if not np.array_equal(pixels, reference):
        raise ModelProvisioningError("the exported image preprocessing differs from open_clip's")
    tokens = bundle.tokenize(list(PROBE_TEXTS))
    if not np.array_equal(tokens, clip.tokenizer(list(PROBE_TEXTS)).numpy()):
        raise ModelProvisioningError("the exported tokenizer differs from open_clip's")
    with torch.no_grad():
        want_image = clip.model.encode_image(torch.from_numpy(reference)).numpy()
        want_text = clip.model.encode_text(torch.from_numpy(tokens).long()).numpy()
    if not _close(bundle.encode_image(pixels), want_image) or not _close(
        bundle.encode_text(tokens), want_text
    ):
        raise ModelProvisioningError("the ONNX towers do not reproduce the torch model")


def export_clip(
    source_dir: Path, dest: Path, fix: str, checkpoint_name: str | None = None
) -> ClipExport:
    """Load ``source_dir`` (open_clip_config.json + checkpoint) with open_clip's own code,
    export it into ``dest`` and check the result; any failure is a ModelProvisioningError
    that names the file and ends with ``fix``."""
    from models.clip_torch import load_torch_clip

    try:
        clip = load_torch_clip(source_dir, device="cpu")
    except Exception as exc:  # FaceReIDError, torch and open_clip errors: all "unusable"
        text = str(exc).strip()
        reason = text.splitlines()[0][:200] if text else type(exc).__name__
        raise ModelProvisioningError(
            f"{checkpoint_name or source_dir.name}: does not load into its open_clip model "
            f"({reason}); {fix}"
        ) from None
    try:
        check_exportable(clip)
        transform = image_transform_of(clip.preprocess, clip.image_size)
        dest.mkdir(parents=True, exist_ok=True)
        context_length = int(clip.model.context_length)
        export_towers(clip.model, clip.image_size, context_length, dest)
        (dest / TOKENIZER_FILE).write_text(build_tokenizer_json(context_length), encoding="utf-8")
        document = write_config(clip, transform, dest)
        verify_export(clip, dest)
    except ModelProvisioningError as exc:
        raise ModelProvisioningError(
            f"CLIP export of {clip.model_name}: {exc.message}; {fix}"
        ) from None
    logger.info("exported CLIP %s to ONNX in %s", clip.model_name, dest)
    return ClipExport(
        files={n: sha256_file(dest / n) for n in EXPORTED_FILES},
        model_name=clip.model_name,
        pretrained=clip.pretrained,
        image_size=int(document["image_size"]),
        embed_dim=int(document["embed_dim"]),
        context_length=context_length,
    )
