"""Protection and operations against a real ``bentoml serve``: API keys, rate limits (in a
Redis store shared with a second replica when redis-server is installed), the body size limit,
custom metrics on /metrics and JSON access logs."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.harness import Server, start_server
from tests.integration.payloads import b64_file
from tests.redis_helper import redis_server

pytestmark = pytest.mark.slow

KEYS = "it-key-1,it-key-2,it-key-3,it-key-4"
COMPARE_LIMIT = 5
SETTINGS = {
    "API_KEYS": KEYS,
    "RATE_LIMITS": json.dumps({"/compare": f"{COMPARE_LIMIT}/minute"}),
    "MAX_REQUEST_BYTES": "2000000",
    "LOG_FORMAT": "json",
}
PAIR = {"face1_embedding": [1.0, 0.0], "face2_embedding": [1.0, 0.0]}


@pytest.fixture(scope="module")
def redis_uri() -> Iterator[str | None]:
    if shutil.which("redis-server") is None:
        yield None
        return
    with redis_server() as uri:
        yield uri


@pytest.fixture(scope="module")
def protected_server(
    synthetic_home: Path, redis_uri: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    env = {**SETTINGS, "FACE_ENGINE": "insightface"}
    if redis_uri:
        env["RATE_LIMIT_STORAGE_URI"] = redis_uri
    logs = tmp_path_factory.mktemp("protection-logs")
    server = start_server("service:FaceReID", synthetic_home, logs / "protected.log", env)
    yield server
    server.stop()


def key(n: int) -> dict[str, str]:
    return {"authorization": f"Bearer it-key-{n}"}


def test_keys_required_probes_open_and_errors_in_contract(protected_server: Server) -> None:
    with protected_server.client() as client:
        assert client.get("/health").status_code == 200
        assert client.get("/livez").status_code == 200
        missing = client.post("/compare", json=PAIR)
        assert missing.status_code == 401
        assert missing.json()["error"]["code"] == "unauthorized"
        assert missing.headers["www-authenticate"].startswith("Bearer")
        wrong = client.post("/compare", json=PAIR, headers={"x-api-key": "nope"})
        assert wrong.status_code == 401
        for response in (missing, wrong):
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["x-request-id"]
            assert "server" not in response.headers
        assert client.post("/compare", json=PAIR, headers={"x-api-key": "it-key-1"}).json() == {
            "similarity": 1.0
        }


def test_rate_limit_per_key_with_headers(protected_server: Server) -> None:
    with protected_server.client() as client:
        statuses = []
        for _ in range(COMPARE_LIMIT):
            response = client.post("/compare", json=PAIR, headers=key(2))
            statuses.append(response.status_code)
            assert response.headers["ratelimit-limit"] == str(COMPARE_LIMIT)
        assert statuses[-1] == 200
        limited = client.post("/compare", json=PAIR, headers=key(2))
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "rate_limited"
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.headers["ratelimit-remaining"] == "0"
        assert limited.headers["x-frame-options"] == "DENY"
        # another key keeps its own budget (key 1 used one call in the test above at most)
        assert client.post("/compare", json=PAIR, headers=key(1)).status_code == 200


def test_a_second_replica_shares_the_budget_through_redis(
    protected_server: Server,
    redis_uri: str | None,
    synthetic_home: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Two real `bentoml serve` processes with one RATE_LIMIT_STORAGE_URI: calls spent on one
    count against the other."""
    if redis_uri is None:
        pytest.skip("redis-server not installed (Debian: apt-get install -y redis-server)")
    env = {**SETTINGS, "FACE_ENGINE": "insightface", "RATE_LIMIT_STORAGE_URI": redis_uri}
    logs = tmp_path_factory.mktemp("replica-logs")
    replica = start_server("service:FaceReID", synthetic_home, logs / "replica.log", env)
    try:
        with replica.client() as other:
            for _ in range(COMPARE_LIMIT):
                assert other.post("/compare", json=PAIR, headers=key(3)).status_code == 200
        with protected_server.client() as client:
            response = client.post("/compare", json=PAIR, headers=key(3))
        assert response.status_code == 429  # this server saw the replica's calls
        with replica.client() as other:  # and a key unused on either still has its budget
            assert other.post("/compare", json=PAIR, headers=key(4)).status_code == 200
    finally:
        replica.stop()


def test_oversized_bodies_are_refused(protected_server: Server) -> None:
    with protected_server.client() as client:
        declared = client.post(
            "/analyze",
            content=b"x" * 2_500_000,
            headers={**key(1), "content-type": "application/json"},
        )
        assert declared.status_code == 413
        assert declared.json()["error"]["code"] == "payload_too_large"

        def chunks() -> Iterator[bytes]:
            for _ in range(200):  # 12.8 MB, never announced
                yield b"y" * 64_000

        try:
            streamed = client.post(
                "/analyze", content=chunks(), headers={**key(1), "content-type": "application/json"}
            )
        except httpx.HTTPError as exc:  # the server may close while we still send
            pytest.fail(f"no 413 before the connection closed: {exc!r}")
        assert streamed.status_code == 413
        assert streamed.json()["error"]["code"] == "payload_too_large"


def test_custom_metrics_and_json_access_log_after_traffic(
    protected_server: Server, t1_path: Path
) -> None:
    image = b64_file(t1_path)
    with ExitStack() as stack:
        client = stack.enter_context(protected_server.client(timeout=120))
        analyzed = client.post("/analyze", json={"image_data": image}, headers=key(1))
        assert analyzed.status_code == 200, analyzed.text
        client.post("/compare", json=PAIR)  # a 401, counted by code
        text = client.get("/metrics").text
    for name in (
        "facereid_faces_per_image_bucket",
        'facereid_stage_duration_seconds_bucket{le="0.005",stage="decode"}',
        'stage="detect_embed"',
        'stage="emotions"',
        "facereid_face_model_batch_size_bucket",
        'facereid_model_info{engine="insightface"',
        "facereid_clip_available",
        'facereid_rejections_total{code="unauthorized"}',
    ):
        assert name in text, name
    # HTTP metrics by route template (BentoML's raw-path ones are off for the API service)
    assert re.search(r'facereid_http_requests_total\{[^}]*route="/analyze"[^}]*status="200"', text)
    assert "bentoml_service_request_total{" not in text or 'endpoint="/analyze"' not in text
    access = []
    for line in protected_server.log().splitlines():
        if line.startswith("{") and '"facereid.access"' in line:
            access.append(json.loads(line))  # the whole line is one JSON object
    assert access, protected_server.log()[-2000:]
    analyze = [
        r for r in access if r["request"]["route"] == "/analyze" and r["request"]["status"] == 200
    ]
    assert analyze and analyze[0]["request"]["request_id"]
    assert image[1000:1100] not in protected_server.log()
