"""A ``facereid-clip`` store entry from before the ONNX export (open_clip config + torch
checkpoint) converted in place to a new version holding the export, by ``python -m models
ensure``. Needs torch and open_clip; where they are missing (the serving image) it says which
command to run where they are, and the emotion service reports CLIP unavailable meanwhile."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from facereid.emotion.clip_model import CLIP_ONNX_FILE, CONVERT_HINT, LEGACY_CONFIG_FILE
from models import ModelProvisioningError

if TYPE_CHECKING:
    import bentoml

CONVERT_FIX = "store it again with `python -m models pull` or `python -m models import`"
# Keys save_clip_dir writes for the export; the old entry's own values would be wrong.
EXPORT_KEYS = ("files", "config_file", "checkpoint_file", "image_size", "embed_dim")


def is_legacy_clip(folder: Path) -> bool:
    return (folder / LEGACY_CONFIG_FILE).is_file() and not (folder / CLIP_ONNX_FILE).is_file()


def can_export() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("torch", "open_clip"))


def convert_legacy_clip(model: bentoml.Model) -> bentoml.Model:
    """Export the stored checkpoint and store the export as the next version, with the old
    entry's labels and metadata (and ``converted_from``)."""
    from models.clip_torch import find_checkpoint
    from models.importer import save_clip_dir
    from models.store import model_labels, model_metadata

    folder = Path(model.path)
    try:
        config: dict[str, Any] = json.loads((folder / LEGACY_CONFIG_FILE).read_text("utf-8"))
        checkpoint = find_checkpoint(folder, config)
    except Exception as exc:  # unreadable config, no checkpoint: the entry is unusable
        raise ModelProvisioningError(
            f"{model.tag} cannot be converted ({str(exc)[:200]}); {CONVERT_FIX}"
        ) from None
    metadata = {k: v for k, v in model_metadata(model).items() if k not in EXPORT_KEYS}
    metadata["converted_from"] = str(model.tag)
    return save_clip_dir(
        folder,
        checkpoint.name,
        labels=model_labels(model),
        fix=CONVERT_FIX,
        extra_metadata=metadata,
    )


def ensure_clip_format(model: bentoml.Model, say: Callable[[str], object]) -> str | None:
    """Convert ``model`` when it is in the old format (progress through ``say``); returns a
    warning for the user when it stays unconverted, else None."""
    from models.commands.common import report

    if not is_legacy_clip(Path(model.path)):
        return None
    if not can_export():
        return (
            f"!!! {model.tag} is in the store's old checkpoint-only format and torch/open_clip "
            f"are not installed here, so it cannot be converted: the emotion service will "
            f"report CLIP unavailable; {CONVERT_HINT} !!!"
        )
    say(f"{model.tag} is in the old checkpoint-only format: exporting it to ONNX")
    try:
        report(convert_legacy_clip(model))
    except ModelProvisioningError as exc:
        return f"!!! {model.tag} was not converted: {exc.message} !!!"
    return None
