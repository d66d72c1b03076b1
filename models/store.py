"""The BentoML model store: save atomically with labels, look models up.

The store is resolved from ``BENTOML_HOME`` at each call (not once when bentoml is imported),
so the CLI and tests honour the variable even after bentoml has been imported.
``bentoml.models.create`` is used as a context manager: an exception inside it (a failed copy,
an interrupted command) leaves nothing in the store.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from facereid.config import CLIP_MODEL_NAME, FACE_MODEL_NAME, FER_MODEL_NAME

if TYPE_CHECKING:
    import bentoml
    from bentoml._internal.models.model import ModelStore

logger = logging.getLogger(__name__)

__all__ = [
    "CLIP_MODEL_NAME",
    "FACE_MODEL_NAME",
    "FER_MODEL_NAME",
    "ModelRow",
    "bentoml_home",
    "find_model",
    "list_models",
    "model_labels",
    "save_model",
    "store_tmp_dir",
]


def bentoml_home() -> Path:
    home = os.environ.get("BENTOML_HOME") or os.path.join(os.path.expanduser("~"), "bentoml")
    return Path(os.path.expandvars(home)).expanduser()


def store_tmp_dir() -> Path:
    """Downloads and staging live here, on the store's file system, never in the store."""
    path = bentoml_home() / "tmp" / "facereid"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _model_store() -> ModelStore:
    from bentoml._internal.models.model import ModelStore

    models_dir = bentoml_home() / "models"
    models_dir.mkdir(parents=True, exist_ok=True)
    return ModelStore(str(models_dir))


def find_model(name: str) -> bentoml.Model | None:
    """The latest model called ``name``, or None when the store has none."""
    from bentoml.exceptions import NotFound

    try:
        return _model_store().get(f"{name}:latest")
    except NotFound:
        return None


def model_labels(model: bentoml.Model) -> dict[str, str]:
    return dict(model.info.labels)


def model_metadata(model: bentoml.Model) -> dict[str, Any]:
    return dict(model.info.metadata)


def save_model(
    name: str,
    source_dir: Path,
    files: Iterable[str],
    *,
    labels: dict[str, str],
    metadata: dict[str, Any],
) -> bentoml.Model:
    """Copy ``files`` from ``source_dir`` to a new version of ``name``, all or nothing."""
    import bentoml

    store = _model_store()
    models_dir = bentoml_home() / "models"
    temp_path: Path | None = None
    target: Path | None = None
    try:
        with bentoml.models.create(
            name, labels=labels, metadata=metadata, _model_store=store
        ) as model:
            temp_path = Path(model.path)
            target = models_dir / model.tag.name / str(model.tag.version)
            for file_name in files:
                shutil.copy2(source_dir / file_name, temp_path / file_name)
            tag = model.tag
    except BaseException:
        # bentoml cleans up after an Exception; Ctrl-C during its copy into the store is not an
        # Exception, so a half-copied version folder could stay behind.
        if target is not None and target.exists():
            shutil.rmtree(target, ignore_errors=True)
        raise
    finally:
        # bentoml stages the model in a system temp dir and copies it; drop that copy.
        if temp_path is not None and models_dir not in temp_path.parents:
            shutil.rmtree(temp_path, ignore_errors=True)
    saved = store.get(tag)
    logger.info("saved %s", saved.tag)
    return saved


@dataclass(frozen=True)
class ModelRow:
    name: str
    tag: str
    source: str
    pack: str
    embedding_dim: str
    license: str
    size: str


def _human_size(num_bytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if num_bytes < 1024 or unit == "GiB":
            return f"{num_bytes:.0f} {unit}" if unit == "B" else f"{num_bytes:.1f} {unit}"
        num_bytes /= 1024
    return f"{num_bytes:.1f} GiB"


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def license_terms(metadata: dict[str, Any]) -> str:
    """A short text for the license terms in a model's metadata."""
    info = metadata.get("license")
    if not isinstance(info, dict):
        return "-"
    status = str(info.get("status") or "unknown")
    grant = info.get("grant")
    return f"{status} ({grant})" if grant and str(grant) not in status else status


def list_models() -> list[ModelRow]:
    rows = []
    for model in sorted(_model_store().list(), key=lambda m: (m.tag.name, m.creation_time)):
        labels = model_labels(model)
        meta = model_metadata(model)
        dim = meta.get("embedding_dim", meta.get("embed_dim", "-"))
        pack = labels.get("pack") or "/".join(
            v for v in (labels.get("model"), labels.get("pretrained")) if v
        )
        rows.append(
            ModelRow(
                name=model.tag.name,
                tag=str(model.tag),
                source=labels.get("source", "-"),
                pack=pack or "-",
                embedding_dim=str(dim),
                license=license_terms(meta),
                size=_human_size(_dir_size(Path(model.path))),
            )
        )
    return rows
