"""Check model files before they reach the store: ONNX signatures per role, the pack's license,
and that an exported CLIP (models/clip_export.py) loads as the emotion service loads it.

Every failure is a ModelProvisioningError whose message names the file, says what was expected
and what was found, and ends with the command that fixes it (``fix``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models import ModelProvisioningError
from models.packs import (
    DETECTOR,
    GENDERAGE,
    LANDMARK_3D,
    LANDMARK_106,
    RECOGNIZER,
    ROLE_BY_FILENAME,
)
from models.pull import sha256_file

logger = logging.getLogger(__name__)

Dim = int | str | None
Shape = tuple[Dim, ...]
DEFAULT_DET_SIZE = 640  # what insightface uses when the detector's input is dynamic
LICENSE_FILE = "MODEL.LICENSE"
EXTRA_PACK_FILES = (LICENSE_FILE, "manifest.json")


@dataclass(frozen=True)
class OnnxSignature:
    inputs: list[Shape]
    outputs: list[Shape]


@dataclass
class FacePackReport:
    directory: Path
    files: dict[str, str]  # file name -> sha256
    detector: str
    recognizer: str
    landmark_106: str | None
    det_input_size: list[int]
    rec_input_size: list[int]
    embedding_dim: int
    license: dict[str, Any] = field(default_factory=dict)
    genderage: str | None = None
    landmark_3d: str | None = None


@dataclass
class ClipReport:
    files: dict[str, str]
    image_size: int
    embed_dim: int
    format_version: int


def format_shape(shape: Shape) -> str:
    return "×".join("?" if d is None else str(d) for d in shape) if shape else "scalar"


def read_onnx_signature(path: Path, fix: str) -> OnnxSignature:
    import onnx
    import onnxruntime as ort

    try:
        onnx.checker.check_model(str(path))
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnx and ORT raise many types; all mean "unusable file"
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise ModelProvisioningError(
            f"{path.name}: not a loadable ONNX model (truncated or corrupt: {reason}); {fix}"
        ) from None
    return OnnxSignature(
        inputs=[tuple(i.shape) for i in session.get_inputs()],
        outputs=[tuple(o.shape) for o in session.get_outputs()],
    )


def _is(dim: Dim, value: int) -> bool:
    return dim == value


def _found(sig: OnnxSignature) -> str:
    ins = ", ".join(format_shape(s) for s in sig.inputs) or "none"
    outs = ", ".join(format_shape(s) for s in sig.outputs) or "none"
    return f"input {ins} and {len(sig.outputs)} output(s) {outs}"


def check_detector(name: str, sig: OnnxSignature, fix: str) -> list[int]:
    """An SCRFD detector: one N×3×H×W input, at least 5 outputs. Returns [W, H]."""
    shape = sig.inputs[0] if len(sig.inputs) == 1 else ()
    if len(shape) != 4 or not _is(shape[1], 3) or len(sig.outputs) < 5:
        raise ModelProvisioningError(
            f"{name}: expected a detector with input N×3×H×W and at least 5 outputs, "
            f"found {_found(sig)}; {fix}"
        )
    h, w = shape[2], shape[3]
    if isinstance(h, int) and isinstance(w, int):
        return [w, h]
    return [DEFAULT_DET_SIZE, DEFAULT_DET_SIZE]


def check_recognizer(name: str, sig: OnnxSignature, fix: str, embedding_dim: int | None) -> int:
    """An ArcFace recogniser: N×3×112×112 -> N×D. Returns D."""
    shape = sig.inputs[0] if len(sig.inputs) == 1 else ()
    if len(shape) != 4 or not (_is(shape[1], 3) and _is(shape[2], 112) and _is(shape[3], 112)):
        raise ModelProvisioningError(
            f"{name}: expected input N×3×112×112, found {_found(sig)}; {fix}"
        )
    out = sig.outputs[0] if len(sig.outputs) == 1 else ()
    dim = out[1] if len(out) == 2 else None
    wanted = embedding_dim or "D"
    if not isinstance(dim, int) or dim <= 0 or (embedding_dim and dim != embedding_dim):
        raise ModelProvisioningError(
            f"{name}: expected output N×{wanted}, found {_found(sig)}; {fix}"
        )
    return dim


# the models of a pack with one square image input and one [N, width] output: side, width
FIXED_SIGNATURES = {LANDMARK_106: (192, 212), GENDERAGE: (96, 3), LANDMARK_3D: (192, 3309)}


def check_fixed(name: str, sig: OnnxSignature, fix: str, role: str) -> None:
    """2d106det (N×3×192×192 -> N×212), genderage (N×3×96×96 -> N×3) or 1k3d68
    (N×3×192×192 -> N×3309)."""
    side, width = FIXED_SIGNATURES[role]
    shape = sig.inputs[0] if len(sig.inputs) == 1 else ()
    out = sig.outputs[0] if len(sig.outputs) == 1 else ()
    if (
        len(shape) != 4
        or not (_is(shape[1], 3) and _is(shape[2], side) and _is(shape[3], side))
        or len(out) != 2
        or not _is(out[1], width)
    ):
        raise ModelProvisioningError(
            f"{name}: expected input N×3×{side}×{side} and output N×{width}, found "
            f"{_found(sig)}; {fix}"
        )


def classify(sig: OnnxSignature) -> str | None:
    """The role of an ONNX file with an unknown name, by signature (as insightface routes)."""
    shape = sig.inputs[0] if len(sig.inputs) == 1 else ()
    if len(shape) != 4:
        return None
    if len(sig.outputs) >= 5:
        return DETECTOR
    out = sig.outputs[0] if len(sig.outputs) == 1 else ()
    if shape[2] == 112 and shape[3] == 112 and len(out) == 2:
        return RECOGNIZER
    for role, (side, width) in FIXED_SIGNATURES.items():
        if shape[2] == side and shape[3] == side and len(out) == 2 and out[1] == width:
            return role
    return None


def inspect_license(directory: Path) -> dict[str, Any]:
    from insightface.model_zoo.model_license import inspect_model_package_license

    result = inspect_model_package_license(directory)
    return {
        "status": result.status,
        "grant": result.grant,
        "message": result.message,
        "commercial_use_permitted": result.commercial_use_permitted,
    }


def refuse_symlinks(directory: Path, names: list[str], fix: str) -> None:
    """A pack's files must be its own: a symlink (e.g. ``manifest.json`` -> any file on the
    host) would copy whatever it points at into the store and from there into the image."""
    for name in names:
        if (directory / name).is_symlink():
            raise ModelProvisioningError(
                f"{directory / name}: is a symbolic link; model packs may only hold regular "
                f"files (copy the real file in); {fix}"
            )


def inspect_face_pack(
    directory: Path, fix: str, *, embedding_dim: int | None = None
) -> FacePackReport:
    """Validate every .onnx file in ``directory`` and pick the detector, recogniser and the
    optional 106-point landmark, genderage and 3-D landmark models."""
    onnx_files = sorted(p for p in directory.iterdir() if p.suffix == ".onnx" and p.is_file())
    if not onnx_files:
        raise ModelProvisioningError(f"{directory}: no .onnx files found; {fix}")
    refuse_symlinks(directory, [p.name for p in onnx_files] + list(EXTRA_PACK_FILES), fix)
    roles: dict[str, str] = {}
    det_size: list[int] = []
    dim = 0
    for path in onnx_files:
        sig = read_onnx_signature(path, fix)
        role = ROLE_BY_FILENAME.get(path.name) or classify(sig)
        if role is None or role in roles:
            continue  # a second model of a role: stored, not used
        if role == DETECTOR:
            det_size = check_detector(path.name, sig, fix)
        elif role == RECOGNIZER:
            dim = check_recognizer(path.name, sig, fix, embedding_dim)
        else:
            check_fixed(path.name, sig, fix, role)
        roles[role] = path.name
    for role, what in ((DETECTOR, "SCRFD detector"), (RECOGNIZER, "ArcFace recogniser")):
        if role not in roles:
            raise ModelProvisioningError(f"{directory}: the pack has no {what} model; {fix}")
    names = [p.name for p in onnx_files] + [
        n for n in EXTRA_PACK_FILES if (directory / n).is_file()
    ]
    return FacePackReport(
        directory=directory,
        files={n: sha256_file(directory / n) for n in names},
        detector=roles[DETECTOR],
        recognizer=roles[RECOGNIZER],
        landmark_106=roles.get(LANDMARK_106),
        genderage=roles.get(GENDERAGE),
        landmark_3d=roles.get(LANDMARK_3D),
        det_input_size=det_size,
        rec_input_size=[112, 112],
        embedding_dim=dim,
        license=inspect_license(directory),
    )


def clip_config(
    model_name: str, pretrained: str | None, config_file: Path | None
) -> dict[str, Any]:
    """The ``open_clip_config.json`` document for ``model_name``, in the Hugging Face layout
    that open_clip's ``local-dir:`` loader and ``facereid.emotion.clip_model.load_clip`` both read:
    ``{"model_name", "pretrained", "model_cfg", "preprocess_cfg"}``."""
    import open_clip

    if config_file is not None:
        loaded = json.loads(config_file.read_text(encoding="utf-8"))
        model_cfg = loaded.get("model_cfg") or {
            k: v for k, v in loaded.items() if k not in ("model_name", "pretrained")
        }
        preprocess = loaded.get("preprocess_cfg", {})
    else:
        model_cfg = open_clip.get_model_config(model_name)
        preprocess = {}
        if pretrained:
            tag_cfg = open_clip.get_pretrained_cfg(model_name, pretrained) or {}
            preprocess = {k: tag_cfg[k] for k in ("mean", "std") if k in tag_cfg}
    if not model_cfg or not all(k in model_cfg for k in ("embed_dim", "vision_cfg", "text_cfg")):
        raise ModelProvisioningError(
            f"{model_name!r} is not an open_clip model config; pass --clip-model with a name "
            f"from open_clip.list_models() or --clip-config FILE"
        )
    return {
        "model_name": model_name,
        "pretrained": pretrained or "",
        "model_cfg": model_cfg,
        "preprocess_cfg": preprocess,
    }


def validate_clip_dir(directory: Path, fix: str) -> ClipReport:
    """Load the exported folder exactly as the service does
    (``facereid.emotion.clip_model.load_clip``: ONNX Runtime sessions whose signatures are
    checked, the tokenizer, clip_onnx.json) and check the files are the ones it names."""
    from facereid.emotion.clip_model import (
        CLIP_ONNX_FILE,
        FORMAT_VERSION,
        load_clip,
        read_config,
    )

    try:
        bundle = load_clip(directory, device="cpu")
        named: dict[str, str] = dict(read_config(directory).get("files") or {})
    except Exception as exc:  # FaceReIDError, ORT and tokenizers errors: all "unusable"
        text = str(exc).strip()
        reason = text.splitlines()[0][:200] if text else type(exc).__name__
        raise ModelProvisioningError(f"the CLIP export does not load ({reason}); {fix}") from None
    files = {n: sha256_file(directory / n) for n in sorted(named)}
    if files != named:
        raise ModelProvisioningError(
            f"the CLIP export's files do not match the checksums in {CLIP_ONNX_FILE}; {fix}"
        )
    files[CLIP_ONNX_FILE] = sha256_file(directory / CLIP_ONNX_FILE)
    return ClipReport(
        files=files,
        image_size=bundle.image_size,
        embed_dim=bundle.embed_dim,
        format_version=FORMAT_VERSION,
    )
