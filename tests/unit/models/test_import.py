"""`python -m models import`: folders, zips (flat and nested), MODEL_PATH, CLIP checkpoints,
and the rejections that keep a bad model out of the store."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from facereid.emotion.clip_model import load_clip
from models import ModelProvisioningError
from models.store import (
    CLIP_MODEL_NAME,
    FACE_MODEL_NAME,
    find_model,
    model_labels,
    model_metadata,
)
from models.validate import inspect_face_pack
from tests.unit.models.conftest import (
    TINY_CLIP_CONFIG,
    RunCli,
    detector_model,
    genderage_model,
    landmark_3d_model,
    recognizer_model,
    stored_versions,
    write_pack,
    zip_dir,
)


def test_import_from_folder(store: Path, pack_dir: Path, run_cli: RunCli) -> None:
    result = run_cli("import", "--insightface-dir", str(pack_dir))
    assert result.code == 0, result.err
    model = find_model(FACE_MODEL_NAME)
    assert model is not None
    assert model_labels(model) == {"source": "imported", "pack": "buffalo_l"}
    assert sorted(model_metadata(model)["files"]) == [
        "2d106det.onnx",
        "det_10g.onnx",
        "w600k_r50.onnx",
    ]
    assert model.info.metadata["rec_input_size"] == [112, 112]
    assert "default_non_commercial" in result.out


@pytest.mark.parametrize("prefix", ["", "buffalo_l/"], ids=["top-level", "nested"])
def test_import_from_zip(
    store: Path, pack_dir: Path, tmp_path: Path, prefix: str, run_cli: RunCli
) -> None:
    archive = zip_dir(pack_dir, tmp_path / "mypack.zip", prefix=prefix)
    result = run_cli("import", "--insightface-dir", str(archive), "--pack-name", "custom")
    assert result.code == 0, result.err
    model = find_model(FACE_MODEL_NAME)
    assert model is not None and model_labels(model)["pack"] == "custom"
    assert (Path(model.path) / "det_10g.onnx").is_file()


def test_unknown_file_names_are_classified_by_signature(
    store: Path, tmp_path: Path, run_cli: RunCli
) -> None:
    pack = tmp_path / "renamed"
    pack.mkdir()
    import onnx

    onnx.save(detector_model(outputs=6), str(pack / "my_detector.onnx"))
    onnx.save(recognizer_model(dim=256), str(pack / "my_arcface.onnx"))
    result = run_cli("import", "--insightface-dir", str(pack))
    assert result.code == 0, result.err
    model = find_model(FACE_MODEL_NAME)
    assert model is not None
    meta = model_metadata(model)
    assert meta["detector"] == "my_detector.onnx" and meta["recognizer"] == "my_arcface.onnx"
    assert meta["embedding_dim"] == 256 and "landmark_106" not in meta


def test_wrong_signature_is_rejected(store: Path, tmp_path: Path, run_cli: RunCli) -> None:
    pack = write_pack(tmp_path / "bad", w600k_r50=recognizer_model(size=64))
    result = run_cli("import", "--insightface-dir", str(pack))
    assert result.code == 1
    assert result.err.startswith("error: w600k_r50.onnx: expected input N×3×112×112, found")
    assert "python -m models import" in result.err
    assert stored_versions(store) == []


def test_attribute_models_are_checked_too(store: Path, tmp_path: Path, run_cli: RunCli) -> None:
    """genderage.onnx and 1k3d68.onnx (issue 24) are validated like the other roles: a file
    under the name of one with the other's signature is refused, naming the file."""
    genderage, landmark_3d = genderage_model(), landmark_3d_model()
    good = write_pack(tmp_path / "good", genderage=genderage, **{"1k3d68": landmark_3d})
    assert inspect_face_pack(good, "fix").genderage == "genderage.onnx"
    assert inspect_face_pack(good, "fix").landmark_3d == "1k3d68.onnx"
    pack = write_pack(tmp_path / "bad", genderage=landmark_3d)
    result = run_cli("import", "--insightface-dir", str(pack))
    assert result.code == 1
    assert result.err.startswith("error: genderage.onnx: expected input N×3×96×96 and output N×3,")
    assert stored_versions(store) == []


def test_detector_with_too_few_outputs_is_rejected(
    store: Path, tmp_path: Path, run_cli: RunCli
) -> None:
    pack = write_pack(tmp_path / "bad", det_10g=detector_model(outputs=2))
    result = run_cli("import", "--insightface-dir", str(pack))
    assert result.code == 1 and "det_10g.onnx: expected a detector" in result.err
    assert stored_versions(store) == []


def test_known_pack_demands_its_embedding_size(
    store: Path, tmp_path: Path, run_cli: RunCli
) -> None:
    pack = write_pack(tmp_path / "buffalo_l", w600k_r50=recognizer_model(dim=128))
    result = run_cli("import", "--insightface-dir", str(pack))
    assert result.code == 1 and "expected output N×512" in result.err


def test_truncated_onnx_is_rejected(
    store: Path, pack_dir: Path, tmp_path: Path, run_cli: RunCli
) -> None:
    pack = write_pack(tmp_path / "trunc")
    data = (pack / "w600k_r50.onnx").read_bytes()
    (pack / "w600k_r50.onnx").write_bytes(data[: len(data) // 2])
    result = run_cli("import", "--insightface-dir", str(pack))
    assert result.code == 1
    assert "w600k_r50.onnx: not a loadable ONNX model (truncated or corrupt" in result.err
    assert "Traceback" not in result.err
    assert stored_versions(store) == []


def test_corrupt_zip_is_rejected(
    store: Path, pack_zip: Path, tmp_path: Path, run_cli: RunCli
) -> None:
    broken = tmp_path / "broken.zip"
    broken.write_bytes(pack_zip.read_bytes()[:300])
    result = run_cli("import", "--insightface-dir", str(broken))
    assert result.code == 1 and "broken.zip: not a valid zip archive" in result.err
    assert stored_versions(store) == []


def test_zip_with_unsafe_paths_is_rejected(store: Path, tmp_path: Path, run_cli: RunCli) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../escape.onnx", b"x")
    result = run_cli("import", "--insightface-dir", str(archive))
    assert result.code == 1 and "unsafe path" in result.err
    assert not (tmp_path / "escape.onnx").exists()


def test_no_flags_imports_model_path(
    store: Path, pack_dir: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODEL_PATH", str(pack_dir))
    result = run_cli("import")
    assert result.code == 0, result.err
    model = find_model(FACE_MODEL_NAME)
    assert model is not None and model_labels(model)["source"] == "imported"


def test_no_flags_and_empty_model_path_says_what_to_do(store: Path, run_cli: RunCli) -> None:
    result = run_cli("import")
    assert result.code == 1 and "--insightface-dir" in result.err and "MODEL_PATH" in result.err


def test_missing_folder_is_one_sentence(store: Path, tmp_path: Path, run_cli: RunCli) -> None:
    result = run_cli("import", "--insightface-dir", str(tmp_path / "nope"))
    assert result.code == 1 and "no such file or folder" in result.err
    assert result.err.count("\n") == 1


def test_import_clip_checkpoint(
    store: Path, clip_files: tuple[Path, Path], run_cli: RunCli
) -> None:
    config, checkpoint = clip_files
    result = run_cli(
        "import", "--clip-checkpoint", str(checkpoint), "--clip-model", "tiny-clip",
        "--clip-config", str(config),
    )  # fmt: skip
    assert result.code == 0, result.err
    model = find_model(CLIP_MODEL_NAME)
    assert model is not None
    assert model_labels(model)["source"] == "imported"
    folder = Path(model.path)
    exported = json.loads((folder / "clip_onnx.json").read_text())
    assert exported["model_name"] == "tiny-clip" and exported["format_version"] == 1
    assert (exported["image_size"], exported["embed_dim"]) == (32, 16)
    assert model.info.metadata["source_checkpoint"] == "open_clip_pytorch_model.bin"
    assert set(model_metadata(model)["files"]) == {
        "visual.onnx",
        "textual.onnx",
        "tokenizer.json",
        "clip_onnx.json",
    }
    # The stored files are real copies of the export (no staging symlink, no checkpoint).
    assert not any(p.is_symlink() for p in folder.iterdir())
    assert not any(p.suffix in (".bin", ".safetensors") for p in folder.iterdir())
    assert load_clip(folder).embed_dim == 16


def test_clip_checkpoint_for_another_architecture_is_rejected(
    store: Path, clip_files: tuple[Path, Path], tmp_path: Path, run_cli: RunCli
) -> None:
    config, checkpoint = clip_files
    other = dict(TINY_CLIP_CONFIG, embed_dim=24)
    other_config = tmp_path / "other.json"
    other_config.write_text(json.dumps(other))
    result = run_cli(
        "import", "--clip-checkpoint", str(checkpoint), "--clip-model", "tiny-clip",
        "--clip-config", str(other_config),
    )  # fmt: skip
    assert result.code == 1
    assert "does not load into its open_clip model" in result.err
    assert stored_versions(store) == []


def test_garbage_named_safetensors_is_rejected(
    store: Path, tmp_path: Path, run_cli: RunCli
) -> None:
    garbage = tmp_path / "open_clip_model.safetensors"
    garbage.write_bytes(os.urandom(4096))
    result = run_cli("import", "--clip-checkpoint", str(garbage), "--clip-model", "ViT-B-32")
    assert result.code == 1 and "does not load into its open_clip model" in result.err
    assert "Traceback" not in result.err and result.err.count("\n") == 1
    assert stored_versions(store) == []
    assert [p for p in (store / "tmp" / "facereid").rglob("*") if p.is_file()] == []


def test_checkpoint_of_another_architecture_named_as_vit_b_32_is_rejected(
    store: Path, clip_files: tuple[Path, Path], run_cli: RunCli
) -> None:
    """The tiny checkpoint said to be ViT-B-32: the strict load refuses it before export."""
    _, checkpoint = clip_files
    result = run_cli("import", "--clip-checkpoint", str(checkpoint), "--clip-model", "ViT-B-32")
    assert result.code == 1 and "does not load into its open_clip model" in result.err
    assert stored_versions(store) == []


def test_import_safetensors_checkpoint(store: Path, tmp_path: Path, run_cli: RunCli) -> None:
    """A .safetensors checkpoint is staged under a .safetensors name (open_clip reads by suffix)."""
    from models.synth.clip import write_clip_pack

    write_clip_pack(tmp_path / "tiny", seed=3)
    result = run_cli(
        "import", "--clip-checkpoint", str(tmp_path / "tiny" / "open_clip_model.safetensors"),
        "--clip-model", "facereid-synth-ViT-tiny-32",
        "--clip-config", str(tmp_path / "tiny" / "open_clip_config.json"),
    )  # fmt: skip
    assert result.code == 0, result.err
    model = find_model(CLIP_MODEL_NAME)
    assert model is not None
    assert model.info.metadata["source_checkpoint"] == "open_clip_model.safetensors"


def test_truncated_clip_checkpoint_is_rejected(
    store: Path, clip_files: tuple[Path, Path], tmp_path: Path, run_cli: RunCli
) -> None:
    config, checkpoint = clip_files
    short = tmp_path / "short.bin"
    short.write_bytes(checkpoint.read_bytes()[:1000])
    result = run_cli(
        "import", "--clip-checkpoint", str(short), "--clip-model", "tiny-clip",
        "--clip-config", str(config),
    )  # fmt: skip
    assert result.code == 1 and "does not load" in result.err
    assert stored_versions(store) == []


# --- supply-chain guards (issue 12) ------------------------------------------------------


@pytest.mark.parametrize("linked", ["manifest.json", "w600k_r50.onnx"])
def test_symlinked_file_in_pack_is_refused(
    store: Path, pack_dir: Path, tmp_path: Path, linked: str, run_cli: RunCli
) -> None:
    folder = tmp_path / "pack"
    shutil.copytree(pack_dir, folder)
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    target = secret if linked == "manifest.json" else pack_dir / linked
    (folder / linked).unlink(missing_ok=True)
    (folder / linked).symlink_to(target)
    result = run_cli("import", "--insightface-dir", str(folder))
    assert result.code == 1 and f"{linked}: is a symbolic link" in result.err
    assert stored_versions(store) == []


def test_zip_bomb_member_is_refused_before_extracting(
    store: Path, tmp_path: Path, run_cli: RunCli
) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("det_10g.onnx", b"\0" * (32 << 20))
    assert archive.stat().st_size < 100_000
    result = run_cli("import", "--insightface-dir", str(archive))
    assert result.code == 1 and "expands" in result.err and "zip bomb" in result.err
    assert stored_versions(store) == []
    assert list(tmp_path.rglob("*.onnx")) == []


def test_extracted_size_is_capped(tmp_path: Path) -> None:
    from models.importer import extract_zip

    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("a.onnx", os.urandom(40_000))
        zf.writestr("b.onnx", os.urandom(40_000))
    dest = tmp_path / "out"
    with pytest.raises(ModelProvisioningError, match="unpacks to more than 50000 bytes"):
        extract_zip(archive, dest, "fix", max_bytes=50_000)
    assert not dest.exists() or not any(dest.rglob("*"))


def test_lying_header_sizes_are_counted_while_extracting(tmp_path: Path) -> None:
    from models.importer import extract_zip

    archive = tmp_path / "liar.zip"
    payload = os.urandom(60_000)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("a.onnx", payload)
    # Patch the declared uncompressed size (central directory) to look tiny.
    data = bytearray(archive.read_bytes())
    central = data.rindex(b"PK\x01\x02")
    data[central + 24 : central + 28] = (100).to_bytes(4, "little")
    archive.write_bytes(bytes(data))
    dest = tmp_path / "out"
    with pytest.raises(ModelProvisioningError):
        extract_zip(archive, dest, "fix", max_bytes=50_000)
    written = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    assert written <= 50_000


def test_member_count_is_capped(tmp_path: Path) -> None:
    from models.importer import extract_zip

    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(20):
            zf.writestr(f"f{i}.txt", b"x")
    with pytest.raises(ModelProvisioningError, match="20 members, more than the 10"):
        extract_zip(archive, tmp_path / "out", "fix", max_members=10)
