"""From local files into the store: a pack folder or zip, a CLIP checkpoint, MODEL_PATH.

``pull`` and ``synth`` end here too, so every source is validated the same way before
``store.save_model`` writes anything.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from models import ModelProvisioningError
from models.packs import CLIP_CHECKPOINT_FILE, CLIP_CONFIG_FILE, PACKS
from models.store import CLIP_MODEL_NAME, FACE_MODEL_NAME, save_model, store_tmp_dir
from models.validate import clip_config, inspect_face_pack, validate_clip_dir

if TYPE_CHECKING:
    import bentoml

logger = logging.getLogger(__name__)

IMPORT_HINT = (
    "re-import a complete pack with `python -m models import --insightface-dir DIR_OR_ZIP`"
)
CHECKPOINT_SUFFIXES = (".bin", ".pt", ".pth", ".safetensors")
SAFETENSORS_CHECKPOINT_FILE = "open_clip_model.safetensors"


def default_model_path() -> Path:
    from facereid.config import Settings

    return Path(Settings().model_path)


# A real pack unpacks to ~0.4 GB in 5-10 files; ONNX weights barely compress (ratio ~1.1).
MAX_EXTRACTED_BYTES = 4 * 1024**3
MAX_ARCHIVE_MEMBERS = 256
MAX_COMPRESSION_RATIO = 100  # a zip bomb's members compress 1000:1 and more
RATIO_CHECK_MIN_BYTES = 1 << 20  # small text members (LICENSE, manifest) may compress well


def extract_zip(
    archive: Path,
    dest: Path,
    fix: str,
    *,
    max_bytes: int = MAX_EXTRACTED_BYTES,
    max_members: int = MAX_ARCHIVE_MEMBERS,
) -> None:
    """Extract after checking every member's path, count, declared size and compression
    ratio; the bytes actually written are counted too (a header may lie) and each member's
    CRC is checked as it is read."""
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            _check_members(archive, members, fix, max_bytes=max_bytes, max_members=max_members)
            written = 0
            for info in members:
                target = dest.joinpath(*PurePosixPath(info.filename).parts)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, target.open("wb") as out:
                    while block := src.read(1 << 20):
                        written += len(block)
                        if written > max_bytes:
                            raise _too_big(archive, max_bytes, fix)
                        out.write(block)
    except zipfile.BadZipFile as exc:
        if "CRC" in str(exc) or "Bad magic" in str(exc):
            raise ModelProvisioningError(
                f"{archive.name}: a member is corrupt ({exc}); {fix}"
            ) from None
        raise ModelProvisioningError(
            f"{archive.name}: not a valid zip archive (truncated or corrupt: {exc}); {fix}"
        ) from None
    except (EOFError, OSError, NotImplementedError, zlib.error) as exc:
        raise ModelProvisioningError(
            f"{archive.name}: not a valid zip archive (truncated or corrupt: {exc}); {fix}"
        ) from None


def _check_members(
    archive: Path, members: list[zipfile.ZipInfo], fix: str, *, max_bytes: int, max_members: int
) -> None:
    if len(members) > max_members:
        raise ModelProvisioningError(
            f"{archive.name}: {len(members)} members, more than the {max_members} a model "
            f"pack may hold; {fix}"
        )
    declared = 0
    for info in members:
        parts = PurePosixPath(info.filename).parts
        if info.filename.startswith("/") or ".." in parts:
            raise ModelProvisioningError(
                f"{archive.name}: unsafe path {info.filename[:200]!r} in the archive; {fix}"
            )
        declared += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size >= RATIO_CHECK_MIN_BYTES and ratio > MAX_COMPRESSION_RATIO:
            raise ModelProvisioningError(
                f"{archive.name}: member {info.filename[:200]!r} expands {ratio:.0f}x, more "
                f"than a model file can (a zip bomb?); {fix}"
            )
    if declared > max_bytes:
        raise _too_big(archive, max_bytes, fix)


def _too_big(archive: Path, max_bytes: int, fix: str) -> ModelProvisioningError:
    return ModelProvisioningError(
        f"{archive.name}: unpacks to more than {max_bytes} bytes, more than a model pack; {fix}"
    )


def _has_onnx(directory: Path) -> bool:
    return any(p.suffix == ".onnx" and p.is_file() for p in directory.iterdir())


def find_pack_root(directory: Path) -> Path | None:
    """The folder holding the .onnx files: ``directory`` itself or one nested folder
    (buffalo_l.zip has them at top level; some packs nest them in ``<pack>/``)."""
    if not directory.is_dir():
        return None
    if _has_onnx(directory):
        return directory
    # Two levels at most: a pack never nests deeper, and MODEL_PATH may be a big folder.
    children = sorted(p for p in directory.iterdir() if p.is_dir() and p.name != "__MACOSX")
    for level in (children, [g for c in children for g in sorted(c.iterdir()) if g.is_dir()]):
        for folder in level:
            if _has_onnx(folder):
                return folder
    return None


def stage_face_source(source: Path, work: Path, fix: str) -> Path:
    """The pack folder for ``source`` (a folder or a zip), extracting zips into ``work``."""
    if not source.exists():
        raise ModelProvisioningError(f"{source}: no such file or folder; {fix}")
    if source.is_file():
        extracted = work / "extracted"
        extracted.mkdir(parents=True, exist_ok=True)
        extract_zip(source, extracted, fix)
        source = extracted
    root = find_pack_root(source)
    if root is None:
        raise ModelProvisioningError(f"{source}: no .onnx files found; {fix}")
    return root


def import_face_pack(
    root: Path,
    *,
    source: str,
    pack_name: str,
    fix: str = IMPORT_HINT,
    extra_metadata: dict[str, Any] | None = None,
) -> bentoml.Model:
    known = PACKS.get(pack_name)
    report = inspect_face_pack(root, fix, embedding_dim=known.embedding_dim if known else None)
    metadata: dict[str, Any] = {
        "files": report.files,
        "detector": report.detector,
        "recognizer": report.recognizer,
        "det_input_size": report.det_input_size,
        "rec_input_size": report.rec_input_size,
        "embedding_dim": report.embedding_dim,
        "license": {k: v for k, v in report.license.items() if v is not None},
        **(extra_metadata or {}),
    }
    # BentoML metadata cannot hold None: a pack without a 106-point model has no such key.
    if report.landmark_106:
        metadata["landmark_106"] = report.landmark_106
    return save_model(
        FACE_MODEL_NAME,
        root,
        report.files,
        labels={"source": source, "pack": pack_name},
        metadata=metadata,
    )


def find_checkpoint(directory: Path) -> str:
    found = sorted(p.name for p in directory.iterdir() if p.suffix in CHECKPOINT_SUFFIXES)
    if not found:
        raise ModelProvisioningError(f"{directory}: no CLIP checkpoint file found")
    return CLIP_CHECKPOINT_FILE if CLIP_CHECKPOINT_FILE in found else found[0]


def save_clip_dir(
    directory: Path,
    checkpoint_file: str,
    *,
    labels: dict[str, str],
    fix: str,
    extra_metadata: dict[str, Any] | None = None,
) -> bentoml.Model:
    """Export ``directory`` (open_clip config + checkpoint) to ONNX (models/clip_export.py),
    check the export loads as the service loads it, and store the exported files only: the
    store entry (and the image built from it) holds no torch checkpoint."""
    from models.clip_export import export_clip

    with tempfile.TemporaryDirectory(prefix="clip-onnx-", dir=store_tmp_dir()) as work:
        exported = Path(work)
        export = export_clip(directory, exported, fix, checkpoint_file)
        report = validate_clip_dir(exported, fix)
        metadata: dict[str, Any] = {
            "files": report.files,
            "format": "onnx",
            "format_version": report.format_version,
            "image_size": report.image_size,
            "embed_dim": report.embed_dim,
            "context_length": export.context_length,
            "source_checkpoint": checkpoint_file,
            **(extra_metadata or {}),
        }
        return save_model(CLIP_MODEL_NAME, exported, report.files, labels=labels, metadata=metadata)


def import_clip_checkpoint(
    checkpoint: Path,
    work: Path,
    *,
    model_name: str,
    pretrained: str | None,
    config_file: Path | None,
    source: str,
    fix: str,
    extra_metadata: dict[str, Any] | None = None,
) -> bentoml.Model:
    """Stage ``checkpoint`` next to its open_clip config in ``work``, export both to ONNX and
    store the export."""
    if not checkpoint.is_file():
        raise ModelProvisioningError(f"{checkpoint}: no such checkpoint file; {fix}")
    config = clip_config(model_name, pretrained, config_file)
    # open_clip reads a checkpoint by its suffix: safetensors stays safetensors.
    staged_name = (
        SAFETENSORS_CHECKPOINT_FILE if checkpoint.suffix == ".safetensors" else CLIP_CHECKPOINT_FILE
    )
    config["checkpoint_file"] = staged_name
    stage = work / "clip"
    stage.mkdir(parents=True, exist_ok=True)
    (stage / CLIP_CONFIG_FILE).write_text(json.dumps(config, indent=2), encoding="utf-8")
    staged = stage / staged_name
    try:
        staged.symlink_to(checkpoint.resolve())  # no copy of a 600 MB file just to check it
    except OSError:
        shutil.copy2(checkpoint, staged)
    pretrained_label = pretrained or "none"
    labels = {
        "source": source,
        "model": model_name,
        "pretrained": pretrained_label,
        "pack": f"{model_name}/{pretrained_label}",
    }
    return save_clip_dir(stage, staged_name, labels=labels, fix=fix, extra_metadata=extra_metadata)
