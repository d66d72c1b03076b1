"""Load an ONNX-exported CLIP from a ``facereid-clip`` store folder, with no torch.

The folder holds what ``models/clip_export.py`` writes: ``visual.onnx`` (image [N,3,S,S] ->
[N,D]), ``textual.onnx`` (token ids [N,context] -> [N,D]), ``tokenizer.json`` (open_clip's
SimpleTokenizer for HF ``tokenizers``) and ``clip_onnx.json`` (preprocessing, logit scale,
checksums). Sessions come from ``facereid.faces.onnx_runtime`` (CUDA first where present); the
image transform is open_clip's eval transform redone with PIL and numpy, equal bit for bit.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from facereid.errors import ModelNotAvailableError, ModelSignatureError
from facereid.faces.onnx_runtime import CPU, CUDA, InferenceSession, create_session

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
CLIP_ONNX_FILE = "clip_onnx.json"
VISUAL_FILE = "visual.onnx"
TEXTUAL_FILE = "textual.onnx"
TOKENIZER_FILE = "tokenizer.json"
# The store's format before the ONNX export: an open_clip config beside a torch checkpoint.
LEGACY_CONFIG_FILE = "open_clip_config.json"
CONVERT_HINT = (
    "convert it with `python -m models ensure` where torch and open_clip are installed (the "
    "dev venv; `make serve` runs it), or store it again with `python -m models pull` or `import`"
)
INTERPOLATIONS = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}
TOKEN_TYPES: dict[str, type[np.integer[Any]]] = {
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
}

Pixels = npt.NDArray[np.float32]


@dataclass(frozen=True)
class ImageTransform:
    """open_clip's eval transform: resize (shortest side to S, then centre crop S x S; or
    'squash' straight to S x S), RGB, /255, (x - mean) / std."""

    image_size: int
    resize_mode: str
    interpolation: str
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def geometry(self, image: Image.Image) -> npt.NDArray[np.uint8]:
        """torchvision's Resize and CenterCrop on a PIL image, as uint8 H x W x 3."""
        size, resample = self.image_size, INTERPOLATIONS[self.interpolation]
        width, height = image.size
        if self.resize_mode == "squash":
            target = (size, size)
        elif width <= height:  # torchvision: short side to S, long side int(S * long / short)
            target = (size, int(size * height / width))
        else:
            target = (int(size * width / height), size)
        if target != (width, height):
            image = image.resize(target, resample)
        if self.resize_mode == "shortest":
            left = int(round((target[0] - size) / 2.0))
            top = int(round((target[1] - size) / 2.0))
            image = image.crop((left, top, left + size, top + size))
        return np.asarray(image.convert("RGB"), dtype=np.uint8)

    def normalise(self, pixels: npt.NDArray[np.uint8]) -> Pixels:
        """[N, S, S, 3] uint8 -> [N, 3, S, S] float32, the same float steps as ToTensor and
        Normalize (true division, not a reciprocal product: bit-equal to torch)."""
        batch = pixels.transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255)
        shape = (1, -1, 1, 1)
        mean = np.asarray(self.mean, dtype=np.float32).reshape(shape)
        std = np.asarray(self.std, dtype=np.float32).reshape(shape)
        return np.ascontiguousarray((batch - mean) / std, dtype=np.float32)


@dataclass(frozen=True)
class ClipBundle:
    """The two ONNX towers, the tokenizer and the transform of one exported CLIP model."""

    visual: InferenceSession
    textual: InferenceSession
    tokenizer: Any  # tokenizers.Tokenizer (padding and truncation to context_length set)
    transform: ImageTransform
    model_name: str
    pretrained: str
    device: str  # "cuda" when the visual tower runs on CUDAExecutionProvider, else "cpu"
    image_size: int
    embed_dim: int
    context_length: int
    logit_scale: float
    token_type: type[np.integer[Any]] = np.int32

    def preprocess(self, images: Sequence[Image.Image], pool: Executor | None = None) -> Pixels:
        """A batch of PIL images as the visual tower's input; ``pool`` resizes side by side
        (Pillow's resize releases the GIL)."""
        if pool is not None and len(images) > 1:
            shaped = list(pool.map(self.transform.geometry, images))
        else:
            shaped = [self.transform.geometry(image) for image in images]
        return self.transform.normalise(np.stack(shaped))

    def tokenize(self, texts: Sequence[str]) -> npt.NDArray[np.integer[Any]]:
        encoded = self.tokenizer.encode_batch(list(texts))
        return np.asarray([e.ids for e in encoded], dtype=self.token_type)

    def encode_image(self, pixels: Pixels) -> npt.NDArray[np.float32]:
        (out,) = self.visual.run(None, {"image": pixels})
        return np.asarray(out, dtype=np.float32)

    def encode_text(self, tokens: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.float32]:
        (out,) = self.textual.run(None, {"text": tokens.astype(self.token_type, copy=False)})
        return np.asarray(out, dtype=np.float32)


def read_config(pack_dir: Path) -> dict[str, Any]:
    path = pack_dir / CLIP_ONNX_FILE
    if not path.is_file():
        if (pack_dir / LEGACY_CONFIG_FILE).is_file():
            raise ModelNotAvailableError(
                f"the CLIP model in {pack_dir} is in the store's old checkpoint-only format "
                f"(a torch checkpoint, no ONNX export); {CONVERT_HINT}"
            )
        raise ModelNotAvailableError(f"no {CLIP_ONNX_FILE} in {pack_dir}; {CONVERT_HINT}")
    try:
        config: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelSignatureError(f"{path} is not readable JSON: {exc}") from None
    if config.get("format_version") != FORMAT_VERSION:
        raise ModelSignatureError(
            f"{path}: format_version {config.get('format_version')!r}, this service reads "
            f"{FORMAT_VERSION}; {CONVERT_HINT}"
        )
    return config


def _shape(value: Any) -> list[Any]:
    return list(value.shape)


def check_tower(
    session: InferenceSession, name: str, file_name: str, input_shape: list[int], embed_dim: int
) -> str:
    """One input ``name`` of [N, *input_shape], one output [N, embed_dim]; returns its type."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    found = (
        f"inputs {[(i.name, _shape(i)) for i in inputs]}, outputs {[_shape(o) for o in outputs]}"
    )
    ok = (
        len(inputs) == 1
        and inputs[0].name == name
        and len(_shape(inputs[0])) == 1 + len(input_shape)
        and _shape(inputs[0])[1:] == input_shape
        and len(outputs) == 1
        and len(_shape(outputs[0])) == 2
        and _shape(outputs[0])[1] == embed_dim
    )
    if not ok:
        raise ModelSignatureError(
            f"{file_name}: expected input {name!r} [N, {', '.join(map(str, input_shape))}] and "
            f"one output [N, {embed_dim}], found {found}; {CONVERT_HINT}"
        )
    return str(getattr(inputs[0], "type", "tensor(float)"))


def _session(path: Path, device: str | None, threads: int) -> InferenceSession:
    if not path.is_file():
        raise ModelNotAvailableError(f"no {path.name} in {path.parent}; {CONVERT_HINT}")
    providers = [CPU] if device == "cpu" else None
    try:
        session: InferenceSession = create_session(
            path, intra_op_threads=threads, providers=providers
        )
        return session
    except Exception as exc:  # ORT raises its own types for a corrupt or foreign file
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else "unreadable"
        raise ModelSignatureError(f"{path.name}: not a loadable ONNX model ({reason})") from None


def load_clip(
    pack_dir: Path, device: str | None = None, *, intra_op_threads: int | None = None
) -> ClipBundle:
    """The exported model in ``pack_dir``; ``device="cpu"`` keeps it off CUDA.

    ``intra_op_threads``: ONNX Runtime threads per tower (None: TORCH_THREADS, 0: ORT's own
    choice, one per core)."""
    from tokenizers import Tokenizer

    from facereid.config import get_settings

    config = read_config(pack_dir)
    threads = get_settings().torch_threads if intra_op_threads is None else intra_op_threads
    try:
        size, dim = int(config["image_size"]), int(config["embed_dim"])
        context = int(config["context_length"])
        transform = ImageTransform(
            image_size=size,
            resize_mode=str(config["resize_mode"]),
            interpolation=str(config["interpolation"]),
            mean=tuple(float(v) for v in config["mean"]),
            std=tuple(float(v) for v in config["std"]),
        )
        scale = float(config["logit_scale"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelSignatureError(f"{CLIP_ONNX_FILE} in {pack_dir} lacks {exc}") from None
    if transform.resize_mode not in ("shortest", "squash") or (
        transform.interpolation not in INTERPOLATIONS
    ):
        raise ModelSignatureError(
            f"{CLIP_ONNX_FILE}: unsupported resize {transform.resize_mode}/"
            f"{transform.interpolation}"
        )
    visual = _session(pack_dir / VISUAL_FILE, device, threads)
    textual = _session(pack_dir / TEXTUAL_FILE, device, threads)
    image_type = check_tower(visual, "image", VISUAL_FILE, [3, size, size], dim)
    text_type = check_tower(textual, "text", TEXTUAL_FILE, [context], dim)
    if image_type != "tensor(float)" or text_type not in TOKEN_TYPES:
        raise ModelSignatureError(
            f"{VISUAL_FILE}/{TEXTUAL_FILE}: input types {image_type}/{text_type}, expected "
            f"tensor(float)/tensor(int32 or int64); {CONVERT_HINT}"
        )
    try:
        tokenizer = Tokenizer.from_file(str(pack_dir / TOKENIZER_FILE))
    except Exception as exc:  # a missing or foreign tokenizer.json
        raise ModelSignatureError(f"{TOKENIZER_FILE} in {pack_dir}: {exc}") from None
    padding = tokenizer.padding or {}
    if padding.get("length") != context or tokenizer.truncation is None:
        raise ModelSignatureError(
            f"{TOKENIZER_FILE} in {pack_dir} does not pad and truncate to the context length "
            f"{context}; {CONVERT_HINT}"
        )
    providers = list(getattr(visual, "get_providers", lambda: [CPU])())
    bundle = ClipBundle(
        visual=visual,
        textual=textual,
        tokenizer=tokenizer,
        transform=transform,
        model_name=str(config.get("model_name") or ""),
        pretrained=str(config.get("pretrained") or ""),
        device="cuda" if providers and providers[0] == CUDA else "cpu",
        image_size=size,
        embed_dim=dim,
        context_length=context,
        logit_scale=scale,
        token_type=TOKEN_TYPES[text_type],
    )
    logger.info("loaded CLIP %s (ONNX) from %s on %s", bundle.model_name, pack_dir, providers)
    return bundle
