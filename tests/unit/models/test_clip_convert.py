"""`python -m models ensure` and a CLIP store entry from before the ONNX export (open_clip
config + torch checkpoint): converted where torch is installed, explained where it is not."""

from __future__ import annotations

import json
from pathlib import Path

import bentoml
import pytest

from facereid.config import CLIP_MODEL_NAME
from facereid.emotion.clip_model import CLIP_ONNX_FILE, load_clip
from models.store import find_model, model_labels, model_metadata, save_model
from models.synth.clip import CHECKPOINT_FILE, write_clip_pack
from tests.unit.models.conftest import RunCli, stored_versions

LABELS = {"source": "synthetic", "model": "facereid-synth-ViT-tiny-32", "pack": "synthetic-tiny"}


@pytest.fixture
def legacy_entry(store: Path, tmp_path: Path) -> bentoml.Model:
    """The entry `models synth` wrote before the export: config + safetensors checkpoint."""
    folder = tmp_path / "legacy"
    info = write_clip_pack(folder, seed=0)
    files = list(info["files"])  # type: ignore[call-overload]
    metadata = {"files": info["files"], "checkpoint_file": CHECKPOINT_FILE, "seed": 0}
    return save_model(CLIP_MODEL_NAME, folder, files, labels=LABELS, metadata=metadata)


def test_ensure_converts_an_old_entry_to_the_export(
    legacy_entry: bentoml.Model, store: Path, run_cli: RunCli
) -> None:
    with pytest.raises(Exception, match="old checkpoint-only format"):
        load_clip(Path(legacy_entry.path))  # what the service would say before
    result = run_cli("ensure")
    assert result.code == 0, result.err
    assert "old checkpoint-only format: exporting it to ONNX" in result.out
    converted = find_model(CLIP_MODEL_NAME)
    assert converted is not None and converted.tag != legacy_entry.tag
    assert model_labels(converted) == LABELS
    meta = converted.info.metadata
    assert meta["converted_from"] == str(legacy_entry.tag) and meta["seed"] == 0
    assert set(model_metadata(converted)["files"]) == {
        CLIP_ONNX_FILE,
        "visual.onnx",
        "textual.onnx",
        "tokenizer.json",
    }
    folder = Path(converted.path)
    assert json.loads((folder / CLIP_ONNX_FILE).read_text())["pretrained"] == "synthetic-seed0"
    assert load_clip(folder).embed_dim == 64
    assert len([v for v in stored_versions(store) if v.startswith(CLIP_MODEL_NAME)]) == 2
    # A second start finds the export and converts nothing.
    again = run_cli("ensure")
    assert "exporting it to ONNX" not in again.out


def test_without_torch_ensure_says_which_command_converts_it(
    legacy_entry: bentoml.Model, store: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("models.clip_convert.can_export", lambda: False)

    def clip_versions() -> list[str]:  # ensure also stores fer's model: not this test's concern
        return [v for v in stored_versions(store) if v.startswith(CLIP_MODEL_NAME)]

    before = clip_versions()
    result = run_cli("ensure")
    assert result.code == 0, result.err
    assert f"{legacy_entry.tag} is in the store's old checkpoint-only format" in result.out
    assert "`python -m models ensure` where torch and open_clip are installed" in result.out
    assert clip_versions() == before


def test_an_unconvertible_old_entry_is_reported_not_raised(
    legacy_entry: bentoml.Model, store: Path, run_cli: RunCli
) -> None:
    (Path(legacy_entry.path) / CHECKPOINT_FILE).write_bytes(b"garbage")
    result = run_cli("ensure")
    assert result.code == 0, result.err
    assert f"!!! {legacy_entry.tag} was not converted" in result.out
    assert "does not load into its open_clip model" in result.out
