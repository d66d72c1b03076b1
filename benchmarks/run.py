"""``make bench``: limit, service, baseline and find_matches in one run, same models (the
synthetic realistic profile unless told otherwise), same machine. Prints markdown tables and
writes them to reports/bench.md (raw numbers in reports/bench.json).

Knobs (environment): BENCH_PROFILE (realistic|tiny), BENCH_HOME (store; default
reports/bentoml_home_<profile>), BENCH_CONCURRENCY (1,8,32), BENCH_SERVICE_SECONDS (25 per
level), BENCH_LIMIT_SECONDS (5 per configuration), BENCH_FM_ROWS (1000,10000,100000),
BENCH_IMAGE (single_1024_1face), BENCH_PARTS (limit,service,baseline,find_matches,overhead,
cache,gallery,attack,erasure). The gallery part is benchmarks/gallery.py (100k rows; its
BENCH_GALLERY_* knobs apply). The overhead part (tiny models, its own store BENCH_TINY_HOME)
and the cache part are described in benchmarks/overhead.py: BENCH_PARTS=overhead runs it
alone (~3 min on 2 cores).
The attack part (benchmarks/gallery_attack.py): clustering 10k/50k faces, and another tenant's
latency while one clusters 20k (issue 21). The erasure part (benchmarks/erasure.py): erasing
one subject, and the whole tenant, down to the disk in a 100k gallery (issue 22).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import clip_onnx, erasure, gallery, gallery_attack, overhead
from benchmarks.common import (
    BENCH_IMAGE,
    REPO_ROOT,
    REPORTS,
    env_float,
    env_ints,
    machine_description,
)
from benchmarks.common import markdown_table as md

PROFILE = os.environ.get("BENCH_PROFILE", "realistic")
HOME = Path(os.environ.get("BENCH_HOME", REPORTS / f"bentoml_home_{PROFILE}")).resolve()
PARTS = os.environ.get(
    "BENCH_PARTS",
    "limit,service,baseline,find_matches,overhead,cache,gallery,attack,erasure,clip_onnx",
).split(",")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ensure_models() -> None:
    env = {**os.environ, "BENTOML_HOME": str(HOME), "BENTOML_DO_NOT_TRACK": "true"}
    cmd = [
        sys.executable,
        "-m",
        "models",
        "synth",
        "--profile",
        PROFILE,
        "--seed",
        "0",
        "--if-missing",
    ]
    subprocess.run(cmd, cwd=REPO_ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def in_own_process(module: str, function: str) -> dict[str, Any]:
    """``benchmarks.<module>.<function>()`` in a process of its own, so its threads and memory
    (the limit's model sessions, the gallery's 100k rows and Chroma index) do not share the
    servers' runs; its dict comes back through reports/bench_<module>.json."""
    out = REPORTS / f"bench_{module}.json"
    code = (
        f"import json; from benchmarks import {module}; "
        f"json.dump({module}.{function}(), open({str(out)!r}, 'w'))"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True)
    return dict(json.loads(out.read_text()))


def _analyze_body() -> bytes:
    from loadtests.payloads import image_case

    return json.dumps(
        {"image_data": image_case(BENCH_IMAGE).b64, "return_all_faces": True}
    ).encode()


def _load_levels(url: str) -> list[dict[str, Any]]:
    from benchmarks.http_load import run_load

    body = _analyze_body()
    seconds = env_float("BENCH_SERVICE_SECONDS", 25)
    rows: list[dict[str, Any]] = []
    # BentoML's batching dispatcher trains its latency model on the first ~10 calls (with
    # waits of seconds); both servers get the same warm-up before anything is timed.
    warmup = int(os.environ.get("BENCH_WARMUP_REQUESTS", "12"))
    for c in env_ints("BENCH_CONCURRENCY", "1,8,32"):
        r = run_load(f"{url}/analyze", body, c, seconds, warmup=warmup if not rows else 2)
        log(f"  c={c}: {r.per_s:.2f} images/s, p50 {r.p(50):.0f} ms, errors {r.errors}")
        rows.append(
            {
                "concurrency": c,
                "images_per_s": r.per_s,
                "p50_ms": r.p(50),
                "p95_ms": r.p(95),
                "p99_ms": r.p(99),
                "requests": r.requests,
                "errors": r.errors,
            }
        )
    return rows


def run_service(result: dict[str, Any]) -> None:
    from benchmarks import find_matches
    from tests.harness import start_server

    env = {
        "FACE_ENGINE": "insightface",
        # The same image on every request: with the cache on, this part would time the cache
        # (the cache part does that), not the models.
        "ANALYSIS_CACHE": "0",
        # Float galleries of 10k+ rows are over the default 68 MiB body limit (~210 bytes a
        # float row of 512 vs ~2.7 kB in base64): raised here so both forms are measured.
        "MAX_REQUEST_BYTES": os.environ.get("BENCH_MAX_REQUEST_BYTES", str(2**31)),
    }
    log_path = REPORTS / "bench_service.log"
    with start_server(
        "service:FaceReID", HOME, log_path, env, isolate_home=False, ready_timeout=300
    ) as server:
        server.wait_healthy(300)
        if "service" in PARTS:
            log("service: /analyze through bentoml serve")
            result["service"] = _load_levels(server.url)
        if "find_matches" in PARTS:
            log("find_matches: galleries through bentoml serve")
            result["find_matches"] = find_matches.as_dicts(find_matches.measure(server.url))


def baseline_clip_dir(settings: Any) -> Path:
    """A torch checkpoint folder for the naive baseline: the store holds the ONNX export only
    (docs/clip_onnx.md), so the baseline loads the realistic profile's seeded ViT-B-32
    checkpoint (same architecture, same speed; random weights either way in a bench)."""
    import bentoml

    from models.clip_torch import CLIP_CONFIG_FILE
    from models.synth.clip import write_clip_pack

    stored = Path(bentoml.models.get(settings.clip_model_tag).path)
    if (stored / CLIP_CONFIG_FILE).is_file():  # a store from before the export
        return stored
    folder = REPORTS / "baseline_clip"
    if not (folder / CLIP_CONFIG_FILE).is_file():
        write_clip_pack(folder, seed=0, profile="realistic")
    return folder


def run_baseline(result: dict[str, Any]) -> None:
    import bentoml

    from facereid.config import get_settings
    from tests.harness import free_port, start_process, venv_bin

    settings = get_settings()
    port = free_port()
    argv = [
        venv_bin("uvicorn"),
        "benchmarks.baseline.app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--log-level",
        "warning",
    ]
    env = {
        "BASELINE_PACK_DIR": bentoml.models.get(settings.face_model_tag).path,
        "BASELINE_CLIP_DIR": str(baseline_clip_dir(settings)),
    }
    log("baseline: FastAPI + FaceAnalysis.get() + open_clip per face")
    with start_process(argv, env, REPORTS / "bench_baseline.log", port) as server:
        server.wait_healthy(300)
        result["baseline"] = _load_levels(server.url)


def ratios(result: dict[str, Any]) -> list[tuple[str, str, float, str]]:
    out: list[tuple[str, str, float, str]] = []
    service = {r["concurrency"]: r for r in result.get("service", [])}
    baseline = {r["concurrency"]: r for r in result.get("baseline", [])}
    limit = result.get("limit", {})
    top = max(service) if service else None
    if top is not None and limit:
        v = service[top]["images_per_s"] / limit["pipeline_best_images_per_s"]
        out.append((f"service / limit, images/s at c={top}", ">= 0.8", v, _ok(v >= 0.8)))
    if top is not None and top in baseline:
        v = service[top]["images_per_s"] / baseline[top]["images_per_s"]
        out.append((f"service / baseline, images/s at c={top}", ">= 1.5", v, _ok(v >= 1.5)))
    for c in sorted(set(service) & set(baseline)):
        if c != top:
            v = service[c]["images_per_s"] / baseline[c]["images_per_s"]
            out.append((f"service / baseline, images/s at c={c}", "-", v, ""))
    if 1 in service and limit:
        v = service[1]["p50_ms"] / limit["pipeline_single_p50_ms"]
        out.append(("service p50 / limit single-image latency, c=1", "<= 1.15", v, _ok(v <= 1.15)))
    for r in result.get("find_matches", []):
        if r["rows"] == 10_000:
            v = r["service_float_ms"] / r["json_loads_ms"]
            out.append(("find_matches 10k floats / json.loads of its body", "<= 2", v, _ok(v <= 2)))
            v = r["service_b64_ms"] / r["json_loads_ms"]
            out.append(
                ("find_matches 10k base64 / json.loads of the float body", "<= 2", v, _ok(v <= 2))
            )
    return out


def _ok(passed: bool) -> str:
    return "met" if passed else "NOT met"


def section(title: str, body: str) -> list[str]:
    return ["", f"## {title}", "", body]


def report(result: dict[str, Any]) -> str:
    from benchmarks import find_matches, limit

    parts = [
        f"# Benchmark ({PROFILE} synthetic models)",
        "",
        f"Machine: {machine_description()}. Image: `{BENCH_IMAGE}` with return_all_faces.",
        f"Command: `make bench` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).",
    ]
    if "limit" in result:
        parts += section("Limit (models alone, no HTTP, no decode)", limit.table(result["limit"]))
    for key, title in (("service", "Service (bentoml serve)"), ("baseline", "Baseline (FastAPI)")):
        if key in result:
            rows = [
                (
                    r["concurrency"],
                    r["images_per_s"],
                    r["p50_ms"],
                    r["p95_ms"],
                    r["p99_ms"],
                    r["requests"],
                    r["errors"],
                )
                for r in result[key]
            ]
            headers = (
                "concurrency",
                "images/s",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "requests",
                "errors",
            )
            parts += ["", f"## {title}: /analyze", "", md(headers, rows)]
    if "find_matches" in result:
        parts += ["", "## /find_matches", "", find_matches.table(result["find_matches"])]
    parts += overhead.tables(result)
    gallery_ratios = []
    if "gallery" in result:
        parts += section("Gallery store (Chroma) vs exact numpy", gallery.table(result["gallery"]))
        gallery_ratios = gallery.ratios(result["gallery"])
    if "attack" in result:
        attack = gallery_attack.table(result["attack"])
        parts += section("Clustering under attack (issue 21)", attack)
    if "erasure" in result:
        parts += section("Erasure down to the disk (issue 22)", erasure.table(result["erasure"]))
    if "clip_onnx" in result:
        onnx_table = clip_onnx.table(result["clip_onnx"])
        parts += section("CLIP image tower: ONNX Runtime vs torch", onnx_table)
    parts += [
        "",
        "## Ratios against the goals",
        "",
        md(
            ("ratio", "goal", "value", ""),
            ratios(result) + overhead.ratios(result) + gallery_ratios,
        ),
    ]
    for name, why in result.get("failed", {}).items():
        parts += ["", f"**{name} failed**: {why}"]
    return "\n".join(parts) + "\n"


def main() -> int:
    REPORTS.mkdir(exist_ok=True)
    os.environ["BENTOML_HOME"] = str(HOME)
    os.environ.setdefault("FACE_ENGINE", "insightface")
    os.environ.setdefault("PYTHONPATH", str(REPO_ROOT))
    started = time.monotonic()
    if set(PARTS) - {"overhead", "gallery", "attack", "erasure", "clip_onnx"}:  # no store needed
        log(f"models ({PROFILE}) in {HOME}")
        ensure_models()
    result: dict[str, Any] = {
        "profile": PROFILE,
        "image": BENCH_IMAGE,
        "machine": machine_description(),
    }
    steps: list[tuple[str, bool, Callable[[], object]]] = [
        (
            "limit",
            "limit" in PARTS,
            lambda: result.update(limit=in_own_process("limit", "measure")),
        ),
        ("service", "service" in PARTS or "find_matches" in PARTS, lambda: run_service(result)),
        ("baseline", "baseline" in PARTS, lambda: run_baseline(result)),
        (
            "overhead",
            "overhead" in PARTS,
            lambda: result.update(overhead=overhead.measure_overhead(log)),
        ),
        ("cache", "cache" in PARTS, lambda: result.update(cache=overhead.measure_cache(HOME, log))),
        (
            "gallery",
            "gallery" in PARTS,
            lambda: result.update(gallery=in_own_process("gallery", "measure_gallery")),
        ),
        (
            "attack",
            "attack" in PARTS,
            lambda: result.update(attack=in_own_process("gallery_attack", "measure")),
        ),
        (
            "erasure",
            "erasure" in PARTS,
            lambda: result.update(erasure=in_own_process("erasure", "measure")),
        ),
        (
            "clip_onnx",
            "clip_onnx" in PARTS,
            lambda: result.update(clip_onnx=in_own_process("clip_onnx", "measure")),
        ),
    ]
    for name, wanted, step in steps:
        if not wanted:
            continue
        log(f"{name} ...")
        try:  # one part failing still leaves the others' numbers
            step()
        except Exception as exc:
            log(f"{name} FAILED: {type(exc).__name__}: {exc}")
            result.setdefault("failed", {})[name] = f"{type(exc).__name__}: {exc}"[:500]
        (REPORTS / "bench.json").write_text(json.dumps(result, indent=1))
    text = report(result)
    (REPORTS / "bench.md").write_text(text)
    (REPORTS / "bench.json").write_text(json.dumps(result, indent=1))
    print(text)
    log(f"done in {time.monotonic() - started:.0f} s; reports/bench.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
