"""Downloads (resume, checksum, failures) and `python -m models pull` end to end against a
local HTTP server."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest

from models import ModelProvisioningError
from models.pull import download
from tests.unit.models.conftest import (
    FileServer,
    RunCli,
    recognizer_model,
    stored_versions,
    write_pack,
    zip_dir,
)

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB: many download chunks


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_download_returns_sha256_and_leaves_no_partial(
    file_server: FileServer, tmp_path: Path
) -> None:
    file_server.files["/f.bin"] = PAYLOAD
    dest = tmp_path / "f.bin"
    digest = download(file_server.url("/f.bin"), dest, progress=False, allow_http=True)
    assert digest == hashlib.sha256(PAYLOAD).hexdigest()
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "f.bin.part").exists()


def test_download_checksum_mismatch_deletes_file(file_server: FileServer, tmp_path: Path) -> None:
    file_server.files["/f.bin"] = PAYLOAD
    dest = tmp_path / "f.bin"
    with pytest.raises(ModelProvisioningError, match="does not match the expected"):
        download(
            file_server.url("/f.bin"),
            dest,
            expected_sha256="0" * 64,
            progress=False,
            allow_http=True,
        )
    assert list(tmp_path.iterdir()) == []


def test_interrupted_download_resumes_with_range(file_server: FileServer, tmp_path: Path) -> None:
    file_server.files["/f.bin"] = PAYLOAD
    file_server.truncate_once.add("/f.bin")
    dest = tmp_path / "f.bin"
    with pytest.raises(ModelProvisioningError, match="to resume"):
        download(file_server.url("/f.bin"), dest, progress=False, allow_http=True)
    partial_size = (tmp_path / "f.bin.part").stat().st_size
    assert 0 < partial_size < len(PAYLOAD)
    assert not dest.exists()

    expected = hashlib.sha256(PAYLOAD).hexdigest()
    assert download(
        file_server.url("/f.bin"), dest, expected_sha256=expected, progress=False, allow_http=True
    )
    assert dest.read_bytes() == PAYLOAD
    path, range_header, status = file_server.requests[-1]
    assert range_header == f"bytes={partial_size}-" and status == 206


def test_resume_restarts_when_server_ignores_range(file_server: FileServer, tmp_path: Path) -> None:
    file_server.files["/f.bin"] = PAYLOAD
    file_server.ranges = False
    (tmp_path / "f.bin.part").write_bytes(b"stale bytes from another file")
    download(file_server.url("/f.bin"), tmp_path / "f.bin", progress=False, allow_http=True)
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_server_down_is_one_clear_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}/f.bin"
    with pytest.raises(ModelProvisioningError, match="cannot reach .*python -m models pull"):
        download(url, tmp_path / "f.bin", progress=False, timeout_s=2, allow_http=True)


def test_http_error_names_status(file_server: FileServer, tmp_path: Path) -> None:
    with pytest.raises(ModelProvisioningError, match="HTTP 404"):
        download(
            file_server.url("/missing.bin"), tmp_path / "f.bin", progress=False, allow_http=True
        )


# --- python -m models pull -------------------------------------------------------------


@pytest.fixture
def served(file_server: FileServer, pack_zip: Path, clip_files: tuple[Path, Path]) -> FileServer:
    file_server.files["/releases/buffalo_l.zip"] = pack_zip.read_bytes()
    file_server.files["/clip/open_clip_pytorch_model.bin"] = clip_files[1].read_bytes()
    return file_server


def _pull_args(server: FileServer, clip_config: Path) -> list[str]:
    return [
        "pull",
        "--no-progress",
        "--allow-http",
        "--clip-model",
        "tiny-clip",
        "--clip-pretrained",
        "test",
        "--clip-config",
        str(clip_config),
        "--clip-base-url",
        server.url("/clip"),
    ]


def test_pull_stores_both_models_with_labels_and_metadata(
    store: Path,
    served: FileServer,
    pack_zip: Path,
    clip_files: tuple[Path, Path],
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from models.store import (
        CLIP_MODEL_NAME,
        FACE_MODEL_NAME,
        find_model,
        model_labels,
        model_metadata,
    )

    monkeypatch.setenv("FACEREID_INSIGHTFACE_BASE_URL", served.url("/releases"))
    result = run_cli(*_pull_args(served, clip_files[0]))
    assert result.code == 0, result.err
    assert "license terms: default_non_commercial" in result.out

    face = find_model(FACE_MODEL_NAME)
    assert face is not None
    assert model_labels(face) == {"source": "pulled", "pack": "buffalo_l"}
    meta = model_metadata(face)
    assert meta["detector"] == "det_10g.onnx" and meta["recognizer"] == "w600k_r50.onnx"
    assert meta["landmark_106"] == "2d106det.onnx" and meta["embedding_dim"] == 512
    assert meta["archive_sha256"] == hashlib.sha256(pack_zip.read_bytes()).hexdigest()
    assert meta["checksum_verified"] is False
    assert meta["license"]["status"] == "default_non_commercial"
    stored = Path(face.path) / "w600k_r50.onnx"
    assert meta["files"]["w600k_r50.onnx"] == hashlib.sha256(stored.read_bytes()).hexdigest()

    clip = find_model(CLIP_MODEL_NAME)
    assert clip is not None
    assert model_labels(clip)["source"] == "pulled" and model_labels(clip)["model"] == "tiny-clip"
    assert clip.info.metadata["embed_dim"] == 16 and clip.info.metadata["image_size"] == 32
    # The store holds the ONNX export of the downloaded checkpoint, not the checkpoint.
    stored_files = sorted(p.name for p in Path(clip.path).iterdir() if p.name != "model.yaml")
    assert stored_files == ["clip_onnx.json", "textual.onnx", "tokenizer.json", "visual.onnx"]
    digest = hashlib.sha256(clip_files[1].read_bytes()).hexdigest()
    assert clip.info.metadata["checkpoint_sha256"] == digest
    assert clip.info.metadata["format"] == "onnx"
    # Nothing left behind in the staging area.
    assert [p for p in (store / "tmp" / "facereid").rglob("*") if p.is_file()] == []


def test_pull_checksum_mismatch_leaves_store_unchanged(
    store: Path, served: FileServer, run_cli: RunCli
) -> None:
    result = run_cli(
        "pull", "--no-progress", "--allow-http", "--skip-clip",
        "--base-url", served.url("/releases"), "--insightface-sha256", "ab" * 32,
    )  # fmt: skip
    assert result.code == 1
    assert "does not match the expected" in result.err and "python -m models pull" in result.err
    assert "Traceback" not in result.err
    assert stored_versions(store) == []


def test_interrupted_pull_stores_nothing_then_resumes(
    store: Path, served: FileServer, run_cli: RunCli
) -> None:
    served.truncate_once.add("/releases/buffalo_l.zip")
    args = (
        "pull",
        "--no-progress",
        "--allow-http",
        "--skip-clip",
        "--base-url",
        served.url("/releases"),
    )
    first = run_cli(*args)
    assert first.code == 1 and "resume" in first.err
    assert stored_versions(store) == []

    second = run_cli(*args)
    assert second.code == 0, second.err
    assert len(stored_versions(store)) == 1
    # The tiny zip fits in one download chunk, so this one restarts; the resume itself is
    # checked in test_interrupted_download_resumes_with_range.


def test_pull_with_server_down_fails_clearly(store: Path, run_cli: RunCli) -> None:
    base = f"http://127.0.0.1:{_free_port()}/releases"
    result = run_cli("pull", "--no-progress", "--allow-http", "--skip-clip", "--base-url", base)
    assert result.code == 1
    assert result.err.startswith("error: cannot reach") and result.err.count("\n") == 1
    assert stored_versions(store) == []


def test_pull_rejects_pack_with_wrong_signature(
    store: Path, file_server: FileServer, tmp_path: Path, run_cli: RunCli
) -> None:
    bad = write_pack(tmp_path / "bad", w600k_r50=recognizer_model(size=64))
    file_server.files["/r/buffalo_l.zip"] = zip_dir(bad, tmp_path / "bad.zip").read_bytes()
    result = run_cli(
        "pull", "--no-progress", "--allow-http", "--skip-clip", "--base-url", file_server.url("/r")
    )
    assert result.code == 1
    assert "w600k_r50.onnx: expected input N×3×112×112, found input N×3×64×64" in result.err
    assert "re-run `python -m models pull`" in result.err
    assert stored_versions(store) == []
    assert not list((store / "tmp" / "facereid" / "downloads").iterdir())


def test_pull_rejects_truncated_zip(
    store: Path, file_server: FileServer, pack_zip: Path, run_cli: RunCli
) -> None:
    file_server.files["/r/buffalo_l.zip"] = pack_zip.read_bytes()[:-200]
    result = run_cli(
        "pull", "--no-progress", "--allow-http", "--skip-clip", "--base-url", file_server.url("/r")
    )
    assert result.code == 1 and "not a valid zip archive" in result.err
    assert stored_versions(store) == []


# --- supply-chain guards (issue 12) ------------------------------------------------------


def test_plain_http_is_refused_without_the_flag(file_server: FileServer, tmp_path: Path) -> None:
    file_server.files["/f.bin"] = PAYLOAD
    with pytest.raises(ModelProvisioningError, match="plain http is refused.*--allow-http"):
        download(file_server.url("/f.bin"), tmp_path / "f.bin", progress=False)
    assert file_server.requests == []  # refused before any connection
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/f.bin", "f.bin"])
def test_other_schemes_are_refused_even_with_the_flag(url: str, tmp_path: Path) -> None:
    with pytest.raises(ModelProvisioningError, match="only https:// URLs"):
        download(url, tmp_path / "f.bin", progress=False, allow_http=True)


def test_pull_over_http_without_flag_fails_clearly(
    store: Path, served: FileServer, run_cli: RunCli
) -> None:
    result = run_cli("pull", "--no-progress", "--skip-clip", "--base-url", served.url("/releases"))
    assert result.code == 1 and "--allow-http" in result.err and "Traceback" not in result.err
    assert served.requests == [] and stored_versions(store) == []


def test_download_over_declared_limit_is_refused(file_server: FileServer, tmp_path: Path) -> None:
    file_server.files["/f.bin"] = PAYLOAD
    with pytest.raises(ModelProvisioningError, match="larger than the download limit"):
        download(
            file_server.url("/f.bin"), tmp_path / "f.bin", progress=False, allow_http=True,
            max_bytes=len(PAYLOAD) - 1,
        )  # fmt: skip
    assert not any(tmp_path.iterdir())


def test_download_without_length_is_counted_against_limit(
    file_server: FileServer, tmp_path: Path
) -> None:
    file_server.files["/f.bin"] = PAYLOAD
    file_server.send_length = False
    with pytest.raises(ModelProvisioningError, match="larger than the download limit"):
        download(
            file_server.url("/f.bin"), tmp_path / "f.bin", progress=False, allow_http=True,
            max_bytes=100_000,
        )  # fmt: skip
    assert not any(tmp_path.iterdir())


def test_pull_max_download_flag_is_applied(
    store: Path, served: FileServer, run_cli: RunCli
) -> None:
    result = run_cli(
        "pull", "--no-progress", "--allow-http", "--skip-clip", "--max-download-mb", "0.001",
        "--base-url", served.url("/releases"),
    )  # fmt: skip
    assert result.code == 1 and "larger than the download limit" in result.err
    assert stored_versions(store) == []


def test_partial_from_another_url_is_restarted_not_resumed(
    file_server: FileServer, tmp_path: Path
) -> None:
    other = bytes(reversed(PAYLOAD))
    file_server.files["/old.bin"] = other
    file_server.files["/new.bin"] = PAYLOAD
    file_server.truncate_once.add("/old.bin")
    dest = tmp_path / "pack.zip"
    with pytest.raises(ModelProvisioningError, match="to resume"):
        download(file_server.url("/old.bin"), dest, progress=False, allow_http=True)
    assert (tmp_path / "pack.zip.part").stat().st_size > 0

    expected = hashlib.sha256(PAYLOAD).hexdigest()
    digest = download(file_server.url("/new.bin"), dest, progress=False, allow_http=True)
    assert digest == expected and dest.read_bytes() == PAYLOAD
    path, range_header, status = file_server.requests[-1]
    assert path == "/new.bin" and range_header is None and status == 200
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pack.zip"]


def test_part_without_recorded_url_is_not_resumed(file_server: FileServer, tmp_path: Path) -> None:
    file_server.files["/f.bin"] = PAYLOAD
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD[:1000])  # origin unknown
    download(file_server.url("/f.bin"), tmp_path / "f.bin", progress=False, allow_http=True)
    assert file_server.requests[-1][1] is None  # no Range header: started again
