"""Cold start of a built image: `podman run` -> /readyz 200 -> first /analyze answered.

    python -m benchmarks.cold_start [IMAGE]          # default facereid-cpu:latest (make image)
    python -m benchmarks.cold_start IMAGE --imports  # where a process's imports spend it
    python -m benchmarks.cold_start --local          # `bentoml serve` from this checkout

Each run starts a fresh container (FACE_ENGINE=dlib by default, COLD_START_ENGINE: real weights
in the image, so /analyze on insightface's t1.jpg answers with six faces), polls /readyz every
0.1 s, posts /analyze once, prints the three times in seconds and removes the container.
COLD_START_RUNS (default 3) runs; COLD_START_PORT (default 40090); COLD_START_ENV: more
``-e`` settings, space separated. Not part of ``make bench`` (it needs podman and an image);
docs/benchmarks.md "Cold start" holds the numbers and the breakdown.

``--local`` times ``bentoml serve service:FaceReID`` from this checkout and its .venv instead
(BENTOML_HOME as set, the Makefile's ./bentoml_home otherwise): the same Python-side start
without the container, to compare code changes on one machine in one session.

``--imports`` runs ``python -X importtime`` inside the image for each module a service process
imports before it can answer (the API service, each model service) and prints the slowest
top-level packages, cumulative: what a lazy import or a fewer-process layout would save.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import httpx

from benchmarks.common import REPO_ROOT

logger = logging.getLogger("benchmarks.cold_start")
IMAGE = "facereid-cpu:latest"
PORT = int(os.environ.get("COLD_START_PORT", "40090"))
RUNS = int(os.environ.get("COLD_START_RUNS", "3"))
ENGINE = os.environ.get("COLD_START_ENGINE", "dlib")
POLL_S = 0.1
READY_TIMEOUT_S = 300
# what each BentoML process imports before it serves (service.py and runners/)
PROCESS_IMPORTS = {
    "API (service:FaceReID)": "service",
    "FaceModel": "runners.face",
    "EmotionModel": "runners.emotion",
    "GalleryStore": "runners.gallery",
}


@dataclass(frozen=True)
class ColdStart:
    started_s: float  # `podman run -d` returned
    ready_s: float  # /readyz answered 200
    first_answer_s: float  # the first /analyze answered 200
    faces: int
    cpu_s: dict[str, float] = field(default_factory=dict)  # CPU seconds per service process


def process_cpu(pids: list[int]) -> dict[str, float]:
    """CPU seconds (user + system) each process has used so far, summed per BentoML service
    (``--service-name``; the `bentoml serve` parent as "serve"), read from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = defaultdict(float)
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            args = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        except OSError:  # ended meanwhile
            continue
        label = Path(args[0]).name
        if "--service-name" in args:
            label = args[args.index("--service-name") + 1]
        elif "serve" in args:
            label = "serve"
        used[label] += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return dict(used)


def container_pids(name: str) -> list[int]:
    return [int(pid) for pid in podman("top", name, "hpid", check=False).split()[1:]]


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from /proc's parent links."""
    children: dict[int, list[int]] = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children[int(fields[1])].append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        tree.append(todo.pop())
        todo.extend(children[tree[-1]])
    return tree


def t1_body() -> dict[str, object]:
    jpeg = resources.files("insightface").joinpath("data/images/t1.jpg").read_bytes()
    return {"image_data": base64.b64encode(jpeg).decode(), "return_all_faces": True}


def podman(*args: str, check: bool = True) -> str:
    done = subprocess.run(["podman", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"podman {args[0]}: {done.stderr.strip()[-500:]}")
    return done.stdout.strip()


def extra_env() -> list[str]:
    settings = [f"FACE_ENGINE={ENGINE}", *os.environ.get("COLD_START_ENV", "").split()]
    return [arg for setting in settings for arg in ("-e", setting)]


def time_first_answer(
    t0: float,
    started: float,
    alive: Callable[[], bool],
    body: dict[str, object],
    cpu: Callable[[], dict[str, float]] = dict,
) -> ColdStart:
    """Poll /readyz from ``t0`` on, then post /analyze once; ``alive`` says whether the
    server is still running (a crashed start fails at once instead of after the timeout)."""
    with httpx.Client(base_url=f"http://127.0.0.1:{PORT}", timeout=120) as client:
        ready = None
        while ready is None and time.perf_counter() - t0 < READY_TIMEOUT_S:
            try:
                if client.get("/readyz", timeout=2).status_code == 200:
                    ready = time.perf_counter() - t0
                    break
            except httpx.HTTPError:
                pass
            if not alive():
                raise RuntimeError("the server exited before /readyz answered")
            time.sleep(POLL_S)
        if ready is None:
            raise RuntimeError(f"/readyz not 200 after {READY_TIMEOUT_S} s")
        answer = client.post("/analyze", json=body)
        first = time.perf_counter() - t0
        answer.raise_for_status()
        return ColdStart(started, ready, first, len(answer.json().get("faces", [])), cpu())


def measure(image: str, body: dict[str, object]) -> ColdStart:
    """One fresh container, timed from just before `podman run`."""
    name = f"facereid-coldstart-{os.getpid()}"
    podman("rm", "-f", name, check=False)

    def alive() -> bool:
        return podman("inspect", name, "--format", "{{.State.Running}}", check=False) == "true"

    try:  # a failed `podman run` leaves a created container behind: removed below too
        t0 = time.perf_counter()
        podman("run", "-d", "--name", name, "-p", f"127.0.0.1:{PORT}:3000", *extra_env(), image)
        started = time.perf_counter() - t0
        return time_first_answer(
            t0, started, alive, body, lambda: process_cpu(container_pids(name))
        )
    except RuntimeError:
        logger.error("%s", podman("logs", "--tail", "20", name, check=False))
        raise
    finally:
        podman("rm", "-f", name, check=False)


def measure_local(body: dict[str, object]) -> ColdStart:
    """`bentoml serve` from this checkout, timed from just before the process starts."""
    env = {**os.environ, "FACE_ENGINE": ENGINE, "DATA_DIR": tempfile.mkdtemp(prefix="coldstart-")}
    env.setdefault("BENTOML_HOME", str(REPO_ROOT / "bentoml_home"))
    for setting in os.environ.get("COLD_START_ENV", "").split():
        name, _, value = setting.partition("=")
        env[name] = value
    command = [str(REPO_ROOT / ".venv" / "bin" / "bentoml"), "serve", "service:FaceReID",
               "--host", "127.0.0.1", "--port", str(PORT)]  # fmt: skip
    t0 = time.perf_counter()
    server = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        return time_first_answer(
            t0,
            0.0,
            lambda: server.poll() is None,
            body,
            lambda: process_cpu(process_tree(server.pid)),
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # its own session: the service processes too
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def import_times(image: str) -> dict[str, list[tuple[str, float]]]:
    """Per service process: the ten slowest top-level packages (the self times `python -X
    importtime` reports, summed per package) in a fresh container, as the service user."""
    results: dict[str, list[tuple[str, float]]] = {}
    for process, module in PROCESS_IMPORTS.items():
        script = (
            'cd "$BENTO_PATH/src" && DATA_DIR=$(mktemp -d) python -X importtime '
            f'-c "import {module}" 2>&1 >/dev/null'
        )
        out = podman("run", "--rm", "--entrypoint", "sh", *extra_env(), image, "-c", script)
        packages: dict[str, float] = defaultdict(float)
        for line in out.splitlines():
            match = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
            if match is not None:  # each module's own time, summed per top-level package
                packages[match.group(2).split(".")[0]] += int(match.group(1)) / 1e6
        total = sum(packages.values())
        ranked = sorted(packages.items(), key=lambda item: -item[1])[:10]
        results[f"{process}: import {module} ({total:.2f} s)"] = ranked
    return results


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args = [a for a in argv if not a.startswith("--")]
    image = args[0] if args else IMAGE
    if "--imports" in argv:
        for process, ranked in import_times(image).items():
            print(f"\n{process}")
            for package, seconds in ranked:
                print(f"  {seconds:6.2f} s  {package}")
        return 0
    body = t1_body()
    local = "--local" in argv
    where = "bentoml serve (local)" if local else image
    print(
        f"| run | podman run -d (s) | /readyz 200 (s) | first /analyze (s) | faces "
        f"| CPU s to the first answer (per service) |  # {where}"
    )
    print("|---|---|---|---|---|---|")
    firsts = []
    for run in range(1, RUNS + 1):
        result = measure_local(body) if local else measure(image, body)
        firsts.append(result.first_answer_s)
        cpu = ", ".join(f"{k} {v:.1f}" for k, v in sorted(result.cpu_s.items()))
        total = sum(result.cpu_s.values())
        print(
            f"| {run} | {result.started_s:.1f} | {result.ready_s:.1f} | "
            f"{result.first_answer_s:.1f} | {result.faces} | {total:.1f} ({cpu}) |",
            flush=True,
        )
    firsts.sort()
    print(f"median first answer: {firsts[len(firsts) // 2]:.1f} s over {RUNS} runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
