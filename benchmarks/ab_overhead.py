"""Two checkouts' /analyze throughput, interleaved: both servers up at once, the load
alternating between them, so whatever else the machine does hits both alike.

    python -m benchmarks.ab_overhead before=/path/to/old/checkout head=.

Each checkout needs its own ``.venv`` (a symlink to this one is fine where the dependencies are
the same). Tiny synthetic pack (``benchmarks.overhead``), insightface's t1.jpg at 1024 px, no
emotions, no cache. Knobs: ``AB_ROUNDS`` (3), ``AB_SECONDS`` per turn (15), ``AB_CONC``
(``8,32``). Output: one line per turn and a JSON summary on stdout; servers' logs in
``reports/ab_<name>.log``. Only same-run ratios mean anything (docs/benchmarks.md).
"""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path

from benchmarks.common import REPORTS
from benchmarks.http_load import run_load
from benchmarks.overhead import TINY_HOME, ensure_tiny_home, t1_jpeg
from tests.harness import Server, free_port, start_process


def start(name: str, checkout: Path) -> Server:
    port = free_port()
    home = REPORTS / f"ab_home_{name}"
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "models").exists():  # its own home (metrics files) over the tiny models
        (home / "models").symlink_to(TINY_HOME / "models", target_is_directory=True)
    env = {
        "BENTOML_HOME": str(home),
        "DATA_DIR": str(REPORTS / f"ab_data_{name}"),
        "FACE_ENGINE": "insightface",
        "ANALYSIS_CACHE": "0",
    }
    argv = [str(checkout / ".venv/bin/bentoml"), "serve", "service:FaceReID"]
    argv += ["--host", "127.0.0.1", "--port", str(port)]
    return start_process(argv, env, REPORTS / f"ab_{name}.log", port, cwd=checkout)


def main(pairs: list[str]) -> None:
    sides = {name: Path(path).resolve() for name, path in (p.split("=", 1) for p in pairs)}
    rounds = int(os.environ.get("AB_ROUNDS", "3"))
    seconds = float(os.environ.get("AB_SECONDS", "15"))
    concurrencies = [int(c) for c in os.environ.get("AB_CONC", "8,32").split(",")]
    REPORTS.mkdir(parents=True, exist_ok=True)
    ensure_tiny_home()
    servers = {name: start(name, checkout) for name, checkout in sides.items()}
    try:
        for server in servers.values():
            server.wait_ready(timeout=300)
        image = base64.b64encode(t1_jpeg(1024)).decode()
        body = json.dumps({"image_data": image, "include_emotions": False}).encode()
        results: dict[str, dict[int, list[float]]] = {
            n: {c: [] for c in concurrencies} for n in sides
        }
        for r in range(rounds):
            order = (
                list(sides) if r % 2 == 0 else list(reversed(sides))
            )  # who goes first alternates
            for c in concurrencies:
                for name in order:
                    res = run_load(f"{servers[name].url}/analyze", body, c, seconds, warmup=12)
                    results[name][c].append(round(res.per_s, 1))
                    print(
                        f"round {r} {name} c={c}: {res.per_s:.1f} images/s, "
                        f"p50 {res.p(50):.0f} ms, errors {res.errors}",
                        flush=True,
                    )
        print(json.dumps(results))
    finally:
        for server in servers.values():
            server.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
