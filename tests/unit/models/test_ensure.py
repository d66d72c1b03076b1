"""`python -m models ensure` pulls what the store lacks (issue 16 part 1), against a local HTTP
server: success, no network (refused, and a server that never answers), MODELS_AUTO_PULL=0,
models already there, failed downloads."""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from facereid.config import CLIP_MODEL_NAME, FACE_MODEL_NAME
from models.store import find_model, model_labels
from tests.unit.models.conftest import FileServer, RunCli, pulled_versions

DLIB_BANNER = "!!! NO INSIGHTFACE MODEL"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pull_knows_allow_http() -> bool:
    """`pull` may refuse plain http unless told it is a trusted mirror (the https-only rule);
    the local test server is http, so the flag is passed wherever the parser has it."""
    from models.cli import build_parser

    try:
        with contextlib.redirect_stderr(io.StringIO()):
            build_parser().parse_args(["pull", "--allow-http"])
    except SystemExit:
        return False
    return True


def _point_at(
    monkeypatch: pytest.MonkeyPatch, releases: str, clip_base: str, clip_config: Path
) -> None:
    """Auto-pull on, from ``releases`` and ``clip_base``, with the tiny CLIP architecture."""
    extra = ["--allow-http"] if _pull_knows_allow_http() else []
    monkeypatch.setenv("MODELS_AUTO_PULL", "1")
    monkeypatch.setenv("MODELS_CONNECT_TIMEOUT_S", "1")
    monkeypatch.setenv("FACEREID_INSIGHTFACE_BASE_URL", releases)
    monkeypatch.setenv(
        "MODELS_PULL_ARGS",
        " ".join(
            [
                "--clip-model tiny-clip --clip-pretrained test",
                f"--clip-config {shlex.quote(str(clip_config))}",
                f"--clip-base-url {shlex.quote(clip_base)}",
                *extra,
            ]
        ),
    )
    monkeypatch.delenv("BENTO_PATH", raising=False)


@pytest.fixture
def served(
    store: Path,
    file_server: FileServer,
    pack_zip: Path,
    clip_files: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> FileServer:
    file_server.files["/releases/buffalo_l.zip"] = pack_zip.read_bytes()
    file_server.files["/clip/open_clip_pytorch_model.bin"] = clip_files[1].read_bytes()
    _point_at(monkeypatch, file_server.url("/releases"), file_server.url("/clip"), clip_files[0])
    return file_server


def _fetched(server: FileServer) -> list[str]:
    return [path for path, _, status in server.requests if status in (200, 206)]


def test_missing_models_are_pulled_with_license_terms(
    served: FileServer, store: Path, run_cli: RunCli
) -> None:
    result = run_cli("ensure")
    assert result.code == 0, result.err
    face, clip = find_model(FACE_MODEL_NAME), find_model(CLIP_MODEL_NAME)
    assert face is not None and model_labels(face) == {"source": "pulled", "pack": "buffalo_l"}
    assert clip is not None and model_labels(clip)["model"] == "tiny-clip"
    assert "non-commercial research use unless the pack carries a signed MODEL.LICENSE" in (
        result.out
    )
    assert "license terms: default_non_commercial" in result.out
    assert result.out.count("recorded (no published checksum known)") == 2
    assert "sha256 None" not in result.out  # the CLIP digest is named too
    # Not a terminal: plain progress lines, one per download, and no bar on stderr.
    assert result.out.count("auto-pull: downloading") == 2
    assert "\r" not in result.err and "B/s" not in result.err
    assert DLIB_BANNER not in result.out and "note: no" not in result.out
    assert sorted(_fetched(served)) == [
        "/clip/open_clip_pytorch_model.bin",
        "/releases/buffalo_l.zip",
    ]


def test_progress_bar_on_a_terminal(
    served: FileServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from models.cli import main

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["ensure"]) == 0
    bar = terminal.getvalue()
    assert "buffalo_l.zip" in bar and "100%" in bar  # tqdm's bar, on stderr only
    assert "100%" not in capsys.readouterr().out


def test_store_with_models_fetches_nothing(served: FileServer, run_cli: RunCli) -> None:
    assert run_cli("ensure").code == 0
    served.requests.clear()
    again = run_cli("ensure")
    assert again.code == 0
    assert served.requests == []
    # the face pack, CLIP and fer's model (stored offline by the first run)
    assert again.out.count("is in the store") == 3 and "auto-pull" not in again.out


def test_auto_pull_off_fetches_nothing(
    served: FileServer, store: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELS_AUTO_PULL", "0")
    result = run_cli("ensure")
    assert result.code == 0
    assert served.requests == []
    assert f"MODELS_AUTO_PULL=0: not downloading {FACE_MODEL_NAME}, {CLIP_MODEL_NAME}" in result.out
    assert DLIB_BANNER in result.out and pulled_versions(store) == []


def test_connection_refused_falls_back_once(
    store: Path, clip_files: tuple[Path, Path], run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    down = f"http://127.0.0.1:{_free_port()}"
    _point_at(monkeypatch, f"{down}/releases", f"{down}/clip", clip_files[0])
    result = run_cli("ensure")
    assert result.code == 0, result.err
    assert result.out.count("auto-pull: cannot reach") == 1 and "ConnectionError" in result.out
    assert "auto-pull: downloading" not in result.out
    assert DLIB_BANNER in result.out and f"note: no {CLIP_MODEL_NAME}" in result.out
    assert pulled_versions(store) == []


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A server that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_server_that_never_answers_falls_back_once(
    store: Path,
    black_hole: str,
    clip_files: tuple[Path, Path],
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _point_at(monkeypatch, f"{black_hole}/releases", f"{black_hole}/clip", clip_files[0])
    result = run_cli("ensure")
    assert result.code == 0, result.err
    assert result.out.count("auto-pull: cannot reach") == 1
    assert "ReadTimeout; connect timeout 1 s" in result.out
    assert DLIB_BANNER in result.out and pulled_versions(store) == []


def test_interrupted_download_leaves_store_without_it(
    served: FileServer, store: Path, run_cli: RunCli
) -> None:
    served.truncate_once.add("/releases/buffalo_l.zip")
    result = run_cli("ensure")
    assert result.code == 0, result.err
    assert f"auto-pull: {FACE_MODEL_NAME} was not stored: download of" in result.out
    assert find_model(FACE_MODEL_NAME) is None and DLIB_BANNER in result.out
    # The network is up, so CLIP still arrives; the store holds it alone.
    assert [v.split("/")[0] for v in pulled_versions(store)] == [CLIP_MODEL_NAME]


def test_checksum_mismatch_leaves_store_unchanged(
    served: FileServer, store: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = os.environ["MODELS_PULL_ARGS"]
    monkeypatch.setenv("MODELS_PULL_ARGS", f"{args} --skip-clip --insightface-sha256 {'ab' * 32}")
    result = run_cli("ensure")
    assert result.code == 0
    assert "does not match the expected" in result.out and DLIB_BANNER in result.out
    assert find_model(FACE_MODEL_NAME) is None


def test_model_path_pack_is_imported_not_pulled(
    served: FileServer, pack_dir: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODEL_PATH", str(pack_dir))
    result = run_cli("ensure")
    assert result.code == 0, result.err
    face = find_model(FACE_MODEL_NAME)
    assert face is not None and model_labels(face)["source"] == "imported"
    assert _fetched(served) == ["/clip/open_clip_pytorch_model.bin"]


def test_models_packed_in_the_bento_are_not_pulled(
    served: FileServer, tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    bento = tmp_path / "bento"
    for name in (FACE_MODEL_NAME, CLIP_MODEL_NAME):
        version = bento / "models" / name / "v1"
        version.mkdir(parents=True)
        (version / "model.yaml").write_text("name: x\n")
    monkeypatch.setenv("BENTO_PATH", str(bento))
    result = run_cli("ensure")
    assert result.code == 0 and served.requests == []
    assert result.out.count("is packed in the Bento") == 2


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("MODELS_PULL_ARGS", "--no-such-flag", "MODELS_PULL_ARGS='--no-such-flag' is not valid"),
        ("MODELS_PULL_ARGS", "--base-url 'unclosed", "No closing quotation"),
        ("MODELS_CONNECT_TIMEOUT_S", "-1", "setting MODELS_CONNECT_TIMEOUT_S is not valid"),
        ("MODELS_AUTO_PULL", "maybe", "setting MODELS_AUTO_PULL is not valid"),
    ],
)
def test_bad_settings_fail_clearly(
    served: FileServer,
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    value: str,
    says: str,
) -> None:
    monkeypatch.setenv(name, value)
    result = run_cli("ensure")
    assert result.code == 1 and says in result.err and result.err.count("\n") == 1
    assert "Traceback" not in result.err and served.requests == []


def test_bento_packing_some_models_pulls_none(
    served: FileServer,
    store: Path,
    tmp_path: Path,
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A Bento with packed models is served from its own store only: a pull would be unseen.
    version = tmp_path / "bento" / "models" / CLIP_MODEL_NAME / "v1"
    version.mkdir(parents=True)
    (version / "model.yaml").write_text("name: x\n")
    monkeypatch.setenv("BENTO_PATH", str(tmp_path / "bento"))
    result = run_cli("ensure")
    assert result.code == 0 and served.requests == []
    assert f"packs {CLIP_MODEL_NAME} but not {FACE_MODEL_NAME}" in result.out
    assert DLIB_BANNER in result.out and pulled_versions(store) == []
