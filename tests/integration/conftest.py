"""Real servers for integration tests: ``bentoml serve`` in a subprocess, talked to over HTTP.

Each server gets its own BentoML store (synthetic models made by ``python -m models synth``
or none at all, which selects the dlib engine) and its own port on 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BENTOML = Path(sys.executable).with_name("bentoml")
STARTUP_TIMEOUT_S = 240


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def client(self, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def start_server(
    target: str, home: Path, log_path: Path, env: dict[str, str] | None = None
) -> Server:
    port = free_port()
    # Each server gets its own BENTOML_HOME over the given store's models: BentoML keeps its
    # Prometheus multiprocess files under the home, and a server stopping there would wipe
    # the metrics of another one still running.
    server_home = log_path.parent / f"bentoml-home-{port}"
    server_home.mkdir(exist_ok=True)  # a restart on the same port reuses it
    (home / "models").mkdir(exist_ok=True)
    if not (server_home / "models").exists():
        (server_home / "models").symlink_to(home / "models", target_is_directory=True)
    full_env = {
        **os.environ,
        "BENTOML_HOME": str(server_home),
        "CLIP_HEALTH_INTERVAL_S": "1",
        "BENTOML_DO_NOT_TRACK": "true",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    log = log_path.open("wb")
    process = subprocess.Popen(
        [str(BENTOML), "serve", target, "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO_ROOT,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{server.log()[-4000:]}")
        try:
            if httpx.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(1)
    server.stop()
    pytest.fail(f"server not ready after {STARTUP_TIMEOUT_S}s:\n{server.log()[-4000:]}")


def wait_healthy(server: Server, timeout: float = 60.0) -> None:
    """Ready means the face model answers; wait for the local CLIP service too."""
    deadline = time.monotonic() + timeout
    body: dict[str, object] = {}
    while time.monotonic() < deadline:
        body = httpx.get(f"{server.url}/health", timeout=10).json()
        if body.get("status") == "healthy":
            return
        time.sleep(0.5)
    pytest.fail(f"server not healthy after {timeout}s: {body}\n{server.log()[-3000:]}")


def synth_store(home: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "models", "synth", "--seed", "0"],
        cwd=REPO_ROOT,
        env={**os.environ, "BENTOML_HOME": str(home)},
        check=True,
        capture_output=True,
    )
    return home


@pytest.fixture(scope="session")
def synthetic_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth_store(tmp_path_factory.mktemp("synthetic-store"))


@pytest.fixture(scope="session")
def synthetic_server(
    synthetic_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    logs = tmp_path_factory.mktemp("logs")
    server = start_server(
        "service:FaceReID",
        synthetic_home,
        logs / "synthetic.log",
        {"FACE_ENGINE": "insightface"},
    )
    wait_healthy(server)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dlib_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """No models in the store: the dlib engine answers and CLIP is unavailable."""
    home = tmp_path_factory.mktemp("empty-store")
    logs = tmp_path_factory.mktemp("logs")
    server = start_server("service:FaceReID", home, logs / "dlib.log", {"FACE_ENGINE": "auto"})
    yield server
    server.stop()
