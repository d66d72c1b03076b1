"""What every command shares: a staging folder inside the store and the one-line report of a
stored model."""

from __future__ import annotations

import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import bentoml

PULL_HINT = "re-run `python -m models pull`"


def work_dir() -> tempfile.TemporaryDirectory[str]:
    from models.store import store_tmp_dir

    return tempfile.TemporaryDirectory(prefix="stage-", dir=store_tmp_dir())


def report(model: bentoml.Model) -> None:
    from models.store import license_terms, model_labels, model_metadata

    labels = model_labels(model)
    meta = model_metadata(model)
    print(f"stored {model.tag} (source={labels.get('source')}, pack={labels.get('pack')})")
    if "license" in meta:
        message = meta["license"].get("message", "")
        print(f"  license terms: {license_terms(meta)} - {message}")
    if meta.get("checksum_verified") is False:
        digest = meta.get("archive_sha256") or meta.get("checkpoint_sha256")  # pack or CLIP
        print(f"  sha256 {digest} recorded (no published checksum known)")
