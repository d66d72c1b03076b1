"""The store API the service uses: BENTOML_HOME at call time, atomic saves, latest lookup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from facereid.config import CLIP_MODEL_NAME as CONFIG_CLIP
from facereid.config import FACE_MODEL_NAME as CONFIG_FACE
from models import store
from tests.unit.models.conftest import stored_versions


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "a.onnx").write_bytes(b"model bytes")
    return folder


def test_names_come_from_config() -> None:
    assert (store.FACE_MODEL_NAME, store.CLIP_MODEL_NAME) == (CONFIG_FACE, CONFIG_CLIP)


def test_find_model_on_empty_store_is_none(store_home: Path) -> None:
    assert store.find_model(store.FACE_MODEL_NAME) is None


def test_save_then_find_latest_with_labels(store_home: Path, source: Path) -> None:
    labels = {"source": "imported", "pack": "p"}
    first = store.save_model("facereid-test", source, ["a.onnx"], labels=labels, metadata={"n": 1})
    second = store.save_model(
        "facereid-test", source, ["a.onnx"], labels={**labels, "pack": "q"}, metadata={"n": 2}
    )
    assert first.tag != second.tag
    found = store.find_model("facereid-test")
    assert found is not None and found.tag == second.tag
    assert store.model_labels(found) == {"source": "imported", "pack": "q"}
    assert (Path(found.path) / "a.onnx").read_bytes() == b"model bytes"
    assert Path(found.path).is_relative_to(store_home)


def test_failed_save_leaves_nothing(store_home: Path, source: Path) -> None:
    with pytest.raises(FileNotFoundError):
        store.save_model(
            "facereid-test", source, ["a.onnx", "missing.onnx"], labels={}, metadata={}
        )
    assert stored_versions(store_home) == []
    assert store.find_model("facereid-test") is None


def test_bentoml_home_is_read_at_call_time(
    tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bentoml  # noqa: F401  (imported before the variable changes)

    for name in ("one", "two"):
        monkeypatch.setenv("BENTOML_HOME", str(tmp_path / name))
        store.save_model("facereid-test", source, ["a.onnx"], labels={}, metadata={})
    assert len(stored_versions(tmp_path / "one")) == 1
    assert len(stored_versions(tmp_path / "two")) == 1


def test_list_models_rows(store_home: Path, source: Path) -> None:
    store.save_model(
        store.FACE_MODEL_NAME,
        source,
        ["a.onnx"],
        labels={"source": "synthetic", "pack": "synthetic-tiny"},
        metadata={
            "embedding_dim": 512,
            "license": {"status": "default_non_commercial", "grant": "non-commercial"},
        },
    )
    (row,) = store.list_models()
    assert (row.name, row.source, row.pack, row.embedding_dim) == (
        store.FACE_MODEL_NAME,
        "synthetic",
        "synthetic-tiny",
        "512",
    )
    assert row.license == "default_non_commercial (non-commercial)"
    assert row.size.endswith("B")


def test_interrupt_during_store_copy_leaves_nothing(
    store_home: Path, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil as shutil_module

    real_copytree = shutil_module.copytree

    def copy_then_interrupt(*args: Any, **kwargs: Any) -> None:
        real_copytree(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(shutil_module, "copytree", copy_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        store.save_model("facereid-test", source, ["a.onnx"], labels={}, metadata={})
    assert stored_versions(store_home) == []
