"""Known model packs: file names, download URLs and checksums.

Checksums are only ever ones we have verified ourselves. Where a value is ``None`` we do not
know the published sha256, so ``pull`` records the computed digest in the model's metadata
(``archive_sha256``, ``checksum_verified: false``) instead of pretending to verify it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

INSIGHTFACE_BASE_URL_ENV = "FACEREID_INSIGHTFACE_BASE_URL"
CLIP_BASE_URL_ENV = "FACEREID_CLIP_BASE_URL"
DEFAULT_INSIGHTFACE_BASE_URL = "https://github.com/deepinsight/insightface/releases/download/v0.7"
HF_RESOLVE_URL = "https://huggingface.co/{repo}/resolve/main"

DEFAULT_PACK = "buffalo_l"
DEFAULT_CLIP_MODEL = "ViT-B-32"
DEFAULT_CLIP_PRETRAINED = "laion2b_s34b_b79k"
CLIP_CONFIG_FILE = "open_clip_config.json"
# The name open_clip's ``local-dir:`` loader looks for first among .bin files.
CLIP_CHECKPOINT_FILE = "open_clip_pytorch_model.bin"

DETECTOR = "detector"
RECOGNIZER = "recognizer"
LANDMARK_106 = "landmark_106"
GENDERAGE = "genderage"  # optional: age and gender (issue 24)
LANDMARK_3D = "landmark_3d"  # optional: 68 3-D points, for the head pose (issue 24)


@dataclass(frozen=True)
class InsightFacePack:
    name: str
    detector: str
    recognizer: str
    landmark_106: str | None
    embedding_dim: int = 512
    # sha256 of ``<name>.zip`` as published; None: not known to us (see module docstring).
    archive_sha256: str | None = None

    @property
    def archive(self) -> str:
        return f"{self.name}.zip"


PACKS: dict[str, InsightFacePack] = {
    pack.name: pack
    for pack in (
        InsightFacePack("buffalo_l", "det_10g.onnx", "w600k_r50.onnx", "2d106det.onnx"),
        InsightFacePack("buffalo_m", "det_2.5g.onnx", "w600k_r50.onnx", "2d106det.onnx"),
        InsightFacePack("buffalo_s", "det_500m.onnx", "w600k_mbf.onnx", "2d106det.onnx"),
        InsightFacePack("buffalo_sc", "det_500m.onnx", "w600k_mbf.onnx", None),
        InsightFacePack("antelopev2", "scrfd_10g_bnkps.onnx", "glintr100.onnx", "2d106det.onnx"),
    )
}

# File name -> role, across every known pack: a file with one of these names is checked
# strictly for that role; other .onnx files are classified by their signature.
ROLE_BY_FILENAME: dict[str, str] = {"genderage.onnx": GENDERAGE, "1k3d68.onnx": LANDMARK_3D}
for _pack in PACKS.values():
    ROLE_BY_FILENAME[_pack.detector] = DETECTOR
    ROLE_BY_FILENAME[_pack.recognizer] = RECOGNIZER
    if _pack.landmark_106:
        ROLE_BY_FILENAME[_pack.landmark_106] = LANDMARK_106


@dataclass(frozen=True)
class ClipCheckpoint:
    model: str
    pretrained: str
    hf_repo: str
    filename: str = CLIP_CHECKPOINT_FILE
    # None: the published sha256 is not known to us (see module docstring).
    sha256: str | None = None


CLIP_CHECKPOINTS: dict[tuple[str, str], ClipCheckpoint] = {
    (c.model, c.pretrained): c
    for c in (
        ClipCheckpoint("ViT-B-32", "laion2b_s34b_b79k", "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"),
    )
}


def insightface_pack(name: str) -> InsightFacePack | None:
    return PACKS.get(name)


def insightface_url(pack: str, base_url: str | None = None) -> str:
    base = base_url or os.environ.get(INSIGHTFACE_BASE_URL_ENV) or DEFAULT_INSIGHTFACE_BASE_URL
    return f"{base.rstrip('/')}/{pack}.zip"


def clip_checkpoint(model: str, pretrained: str) -> ClipCheckpoint | None:
    """The known checkpoint for ``model``/``pretrained``, else one derived from open_clip's
    own pretrained table (its Hugging Face repo), else None."""
    known = CLIP_CHECKPOINTS.get((model, pretrained))
    if known is not None:
        return known
    import open_clip  # heavy: only when a model is not in our table

    cfg = open_clip.get_pretrained_cfg(model, pretrained) or {}
    repo = str(cfg.get("hf_hub") or "").strip("/")
    if not repo:
        return None
    return ClipCheckpoint(model, pretrained, repo)


def clip_url(checkpoint: ClipCheckpoint | None, base_url: str | None = None) -> str | None:
    base = base_url or os.environ.get(CLIP_BASE_URL_ENV)
    filename = checkpoint.filename if checkpoint else CLIP_CHECKPOINT_FILE
    if base:
        return f"{base.rstrip('/')}/{filename}"
    if checkpoint is None:
        return None
    return f"{HF_RESOLVE_URL.format(repo=checkpoint.hf_repo)}/{filename}"
