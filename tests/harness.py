"""The one server harness: ``bentoml serve`` (or any HTTP server) in its own process group on
127.0.0.1, waited for, talked to over HTTP, stopped with its whole group.

Used by the test fixtures (tests/conftest.py), the benchmarks (benchmarks/run.py) and the load
test (loadtests/run.sh, through ``python -m tests.harness``), so that a server is started,
probed and stopped the same way everywhere.

    python -m tests.harness --home DIR --log FILE [--profile realistic] -- locust ... -H {url}

synthesises the profile's models into DIR when it has none, serves ``service:FaceReID`` with the
InsightFace engine, waits until /health says healthy, runs the command with ``{url}`` replaced
and exits with its status, stopping the server in every case.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import psutil

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT_S = 240.0
HEALTHY_TIMEOUT_S = 60.0
FACE_MODEL_DIR = "facereid-insightface"  # models.store.FACE_MODEL_NAME, without importing bentoml


class ServerError(RuntimeError):
    """A server that exited or never became ready; the message ends with its log's tail."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def venv_bin(name: str) -> str:
    """A console script of the running interpreter's environment (bentoml, uvicorn, locust)."""
    return str(Path(sys.executable).with_name(name))


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    _log_file: IO[bytes] | None = field(default=None, repr=False)

    def client(self, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _failure(self, what: str, tail: int = 4000) -> ServerError:
        return ServerError(f"{what} (log {self.log_path}):\n{self.log()[-tail:]}")

    def wait_ready(self, path: str = "/readyz", timeout: float = STARTUP_TIMEOUT_S) -> None:
        """Until ``path`` answers 200 (BentoML's /readyz: the model services answer)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()  # closes the log
                raise self._failure(f"server exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}{path}", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        self.stop()
        raise self._failure(f"server not ready after {timeout:.0f} s")

    def wait_healthy(self, timeout: float = HEALTHY_TIMEOUT_S) -> None:
        """Until /health says healthy: ready plus the CLIP service (local or remote) answers."""
        deadline = time.monotonic() + timeout
        body: object = {}
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise self._failure(f"server exited with {self.process.returncode}")
            try:
                body = httpx.get(f"{self.url}/health", timeout=10).json()
                if isinstance(body, dict) and body.get("status") == "healthy":
                    return
            except (httpx.HTTPError, ValueError):
                pass  # not listening yet, or a half-started process answering garbage
            time.sleep(0.5)
        raise self._failure(f"server not healthy after {timeout:.0f} s: {body}", tail=3000)

    def stop(self) -> None:
        if self.process.poll() is None:
            # BentoML's workers may run in sessions of their own: note them first, so none
            # outlives the server (an orphaned worker holds its model's memory and ports).
            workers = _descendants(self.process.pid)
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
            _, alive = psutil.wait_procs(workers, timeout=10)
            for worker in alive:
                worker.kill()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.NoSuchProcess:
        return []


def start_process(
    argv: Sequence[str], env: dict[str, str], log_path: Path, port: int, cwd: Path = REPO_ROOT
) -> Server:
    """Start ``argv`` (which must listen on ``port``) in a new session; does not wait."""
    log = log_path.open("wb")
    process = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env={**os.environ, "BENTOML_DO_NOT_TRACK": "true", "PYTHONUNBUFFERED": "1", **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # one process group: stop() ends BentoML's workers too
    )
    return Server(f"http://127.0.0.1:{port}", process, log_path, log)


def start_server(
    target: str,
    home: Path,
    log_path: Path,
    env: dict[str, str] | None = None,
    *,
    port: int | None = None,
    isolate_home: bool = True,
    ready_timeout: float = STARTUP_TIMEOUT_S,
) -> Server:
    """``bentoml serve target`` over the models of the store at ``home``; returns once ready.

    ``isolate_home`` gives the server its own BENTOML_HOME (next to its log) over the store's
    models: BentoML keeps its Prometheus multiprocess files under the home, and a server
    stopping there would wipe the metrics of another one still running. A lone server (the
    benchmark's) can use the store's home itself. Each server also gets its own DATA_DIR (the
    gallery store's file allows one process, and uploads must not mix) unless ``env`` names one.
    """
    # BentoML picks its internal (circus/ZMQ) ports as we pick ours: free a moment before they
    # are bound, so two servers starting together can collide ("Address already in use").
    # Such a start is retried on fresh ports; any other failure is raised at once.
    for attempt in range(3):
        try:
            return _start_once(
                target, home, log_path, env, port or free_port(), isolate_home, ready_timeout
            )
        except ServerError as exc:
            if "Address already in use" not in str(exc) or attempt == 2:
                raise
    raise AssertionError("unreachable")


def _start_once(
    target: str,
    home: Path,
    log_path: Path,
    env: dict[str, str] | None,
    port: int,
    isolate_home: bool,
    ready_timeout: float,
) -> Server:
    (home / "models").mkdir(parents=True, exist_ok=True)
    server_home = home
    if isolate_home:
        server_home = log_path.parent / f"bentoml-home-{port}"
        server_home.mkdir(parents=True, exist_ok=True)  # a restart on the same port reuses it
        if not (server_home / "models").exists():
            (server_home / "models").symlink_to(home / "models", target_is_directory=True)
    argv = [venv_bin("bentoml"), "serve", target, "--host", "127.0.0.1", "--port", str(port)]
    data_dir = log_path.parent / f"data-{port}"
    full_env = {
        "BENTOML_HOME": str(server_home),
        "CLIP_HEALTH_INTERVAL_S": "1",
        "DATA_DIR": str(data_dir),
        **(env or {}),
    }
    server = start_process(argv, full_env, log_path, port)
    server.wait_ready(timeout=ready_timeout)
    return server


def models_command(home: Path, *args: str) -> Path:
    """``python -m models ARGS`` into the BentoML store at ``home``, as a user runs it."""
    home.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "models", *args],
        cwd=REPO_ROOT,
        env={**os.environ, "BENTOML_HOME": str(home)},
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise ServerError(f"`python -m models {args[0]}` failed:\n{done.stderr[-3000:]}")
    return home


def synth_store(home: Path, *, profile: str = "tiny", seed: int = 0) -> Path:
    """A BentoML store at ``home`` holding the synthetic models (``python -m models synth``;
    fer's real emotion model too, which it stores when missing)."""
    return models_command(home, "synth", "--seed", str(seed), "--profile", profile)


def _run_with_server(args: argparse.Namespace) -> int:
    home = Path(args.home).resolve()
    if not (home / "models" / FACE_MODEL_DIR).is_dir():
        logger.warning("synthesising %s models into %s", args.profile, home)
        synth_store(home, profile=args.profile)
    log_path = Path(args.log).resolve()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(item.split("=", 1) for item in args.env)
    env = {"FACE_ENGINE": "insightface", **env}
    with start_server(
        "service:FaceReID",
        home,
        log_path,
        env,
        isolate_home=False,  # one server on its own store
        ready_timeout=args.healthy_timeout,
    ) as server:
        server.wait_healthy(args.healthy_timeout)
        logger.warning("server ready at %s (log: %s)", server.url, log_path)
        command = [part.replace("{url}", server.url) for part in args.command]
        return subprocess.run(command, cwd=REPO_ROOT).returncode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.harness", description=__doc__)
    parser.add_argument("--home", required=True, help="BentoML store (synthesised if empty)")
    parser.add_argument("--log", required=True, help="server log file")
    parser.add_argument("--profile", choices=("tiny", "realistic"), default="realistic")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server")
    parser.add_argument("--healthy-timeout", type=float, default=300.0)
    parser.add_argument("command", nargs="+", help="run once healthy; {url} is the server URL")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    # SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, so the server is stopped too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return _run_with_server(args)
    except ServerError as exc:
        logger.error("%s", exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
