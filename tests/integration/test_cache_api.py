"""The repeated-image cache and the encoded serving path against a real ``bentoml serve``
(issue 15): tiny synthetic models, two API keys (two tenants), a short TTL."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import REPO_ROOT, Server, start_server

pytestmark = pytest.mark.slow

KA = {"Authorization": "Bearer ka"}
KB = {"Authorization": "Bearer kb"}
TTL_S = 4


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache-data")


@pytest.fixture(scope="module")
def server(
    synthetic_home: Path, tmp_path_factory: pytest.TempPathFactory, data_dir: Path
) -> Iterator[Server]:
    logs = tmp_path_factory.mktemp("logs")
    env = {
        "FACE_ENGINE": "insightface",
        "API_KEYS": "ka,kb",
        "DATA_DIR": str(data_dir),
        "ANALYSIS_CACHE_TTL_S": str(TTL_S),
    }
    with start_server("service:FaceReID", synthetic_home, logs / "cache.log", env) as server:
        server.wait_healthy()
        yield server


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def counts(server: Server) -> dict[str, float]:
    with server.client() as client:
        text = client.get("/metrics").text
    found = re.findall(r'facereid_analysis_cache_total\{result="(\w+)"\} ([0-9.e+]+)', text)
    return {result: float(value) for result, value in found}


def analyze(server: Server, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    with server.client(timeout=120) as client:
        response = client.post("/analyze", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def without_ids(result: dict[str, Any]) -> dict[str, Any]:
    drop = {"face_id", "timestamp"}
    out = {k: v for k, v in result.items() if k not in drop}
    if "faces" in out:
        out["faces"] = [{k: v for k, v in f.items() if k not in drop} for f in out["faces"]]
    return out


def unique_t1(t1_path: Path, tag: str) -> bytes:
    """t1.jpg with bytes after its end marker: the same picture, a new cache key."""
    return t1_path.read_bytes() + f"facereid-test-{tag}-{time.time_ns()}".encode()


def test_a_repeat_is_a_hit_identical_but_for_ids_and_tenants_do_not_share(
    server: Server, t1_path: Path
) -> None:
    body = {"image_data": b64(unique_t1(t1_path, "repeat")), "return_all_faces": True}
    before = counts(server)
    first = analyze(server, body, KA)
    second = analyze(server, body, KA)
    after_a = counts(server)
    assert after_a.get("hit", 0) - before.get("hit", 0) == 1
    assert without_ids(second) == without_ids(first)
    assert second["face_id"] != first["face_id"]
    assert {f["face_id"] for f in second["faces"]}.isdisjoint(f["face_id"] for f in first["faces"])
    other = analyze(server, body, KB)  # same image, other tenant: computed again
    after_b = counts(server)
    assert after_b.get("hit", 0) == after_a.get("hit", 0)
    assert after_b.get("miss", 0) - after_a.get("miss", 0) == 1
    assert without_ids(other) == without_ids(first)  # same models, same answer


def test_options_that_change_the_answer_are_separate_entries(server: Server, t1_path: Path) -> None:
    image = b64(unique_t1(t1_path, "options"))
    primary = analyze(server, {"image_data": image}, KA)
    every = analyze(server, {"image_data": image, "return_all_faces": True}, KA)
    assert "faces" not in primary and len(every["faces"]) == every["num_faces"]
    plain = analyze(server, {"image_data": image, "include_emotions": False}, KA)
    assert plain["emotions"] is None and primary["emotions"] is not None
    labelled = analyze(server, {"image_data": image, "emotion_labels": ["calm", "tense"]}, KA)
    assert set(labelled["emotions"]) == {"calm", "tense"}
    encoded = analyze(server, {"image_data": image, "embedding_encoding": "base64"}, KA)
    assert "embedding_b64" in encoded and "embedding" not in encoded  # a hit, re-encoded


def test_entries_expire_after_the_ttl(server: Server, t1_path: Path) -> None:
    body = {"image_data": b64(unique_t1(t1_path, "ttl")), "include_emotions": False}
    analyze(server, body, KA)
    time.sleep(TTL_S + 1.5)
    before = counts(server)
    analyze(server, body, KA)
    assert counts(server).get("miss", 0) - before.get("miss", 0) == 1


def test_purge_cli_empties_the_cache(server: Server, t1_path: Path, data_dir: Path) -> None:
    body = {"image_data": b64(unique_t1(t1_path, "purge")), "include_emotions": False}
    analyze(server, body, KA)
    done = subprocess.run(
        [sys.executable, "-m", "facereid.analysis.cache", "purge"],
        cwd=REPO_ROOT,
        env={**os.environ, "DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "removed" in done.stdout and "removed 0" not in done.stdout
    before = counts(server)
    analyze(server, body, KA)
    assert counts(server).get("miss", 0) - before.get("miss", 0) == 1


@pytest.mark.parametrize(
    ("mangle", "status", "code"),
    [
        (lambda raw: raw[: len(raw) // 3], 400, "corrupt_image"),  # decoded in the face service
        (lambda raw: b"GIF89a" + raw[6:], 413, "decompression_bomb"),  # header, in the API
        (lambda raw: b"\x00" * 64, 415, "unsupported_image"),
    ],
)
def test_broken_images_get_their_own_error_from_the_face_service(
    server: Server, t1_path: Path, mangle: Any, status: int, code: str
) -> None:
    body = {"image_data": b64(mangle(t1_path.read_bytes()))}
    with server.client(timeout=120) as client:
        response = client.post("/analyze", json=body, headers=KA)
        batch = client.post(
            "/analyze_batch",
            json={"images": [body["image_data"], b64(t1_path.read_bytes())]},
            headers=KA,
        )
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    first, second = batch.json()["results"]
    assert first["error"]["code"] == code and second["num_faces"] > 0
