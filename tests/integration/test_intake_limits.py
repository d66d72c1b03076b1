"""Intake limits against a real ``bentoml serve`` (issue 12): tiny images that decode huge,
oversized JSON bodies, embedding and gallery sizes, and faces mapped back from the shipped
(downscaled) image to original pixels."""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np
import psutil
import pytest
from PIL import Image

from tests.harness import Server, start_server
from tests.integration.payloads import b64_file, b64_flat

pytestmark = pytest.mark.slow

MiB = 1024 * 1024
RSS_BUDGET = 1536 * MiB  # the bound for 16 x 4096^2 tiny WebPs


def tiny_webp_b64(side: int = 4096) -> str:
    buf = io.BytesIO()
    Image.new("RGBA", (side, side), (10, 200, 30, 255)).save(buf, "WEBP", lossless=True)
    assert len(buf.getvalue()) < 2000
    return base64.b64encode(buf.getvalue()).decode()


def tree_rss(pid: int) -> int:
    """Resident memory of ``bentoml serve`` and every process it started."""
    root = psutil.Process(pid)
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.Error:  # a process that just exited
            continue
    return total


class PeakSampler:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self._stop.wait(0.05)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.peak = max(self.peak, tree_rss(self.pid))


def test_16_tiny_4096_webps_stay_under_the_memory_bound(synthetic_server: Server) -> None:
    data = tiny_webp_b64()
    body = {"images": [data] * 16, "include_emotions": True}
    assert len(json.dumps(body)) < 32 * 1024  # the attack is a small request
    with synthetic_server.client(timeout=120) as client:
        assert client.get("/livez").status_code == 200
        baseline = tree_rss(synthetic_server.process.pid)
        with PeakSampler(synthetic_server.process.pid) as sampler:
            response = client.post("/analyze_batch", json=body)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert len(results) == 16
    codes = [r.get("error", {}).get("code") for r in results]
    assert "timeout" not in codes and "internal_error" not in codes
    decoded = [c for c in codes if c != "pixel_budget_exceeded"]
    refused = [c for c in codes if c == "pixel_budget_exceeded"]
    assert decoded and refused  # the budget (MAX_BATCH_PIXELS) decides, in request order
    assert codes.index("pixel_budget_exceeded") == len(decoded)
    grown = sampler.peak - baseline
    print(f"server tree RSS grew by {grown / MiB:.0f} MiB; {len(decoded)} images decoded")
    assert grown < RSS_BUDGET, f"server tree grew by {grown / MiB:.0f} MiB"


def _post_raw(url: str, path: str, body_size: int, chunked: bool) -> tuple[int, bytes]:
    """POST ``body_size`` zero-ish bytes; stop sending once the server has answered."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    try:
        head = f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
        head += "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {body_size}\r\n"
        sock.sendall((head + "\r\n").encode())
        chunk = b"[" + b"0.1," * (MiB // 4 - 1) + b"0]"
        sent = 0
        sock.setblocking(False)
        answer = b""
        while sent < body_size and b"\r\n\r\n" not in answer:
            try:
                answer += sock.recv(65536)
            except BlockingIOError:
                pass
            try:
                piece = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" if chunked else chunk
                sock.send(piece)
                sent += len(chunk)
            except BlockingIOError:
                time.sleep(0.001)
            except OSError:  # the server closed the connection after answering
                break
        sock.settimeout(30)
        # the whole answer: the headers and the body can arrive in separate segments (the
        # server closes the connection after a 413, so read to its end or its length)
        while not _complete(answer):
            try:
                more = sock.recv(65536)
            except OSError:
                break
            if not more:
                break
            answer += more
    finally:
        sock.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, answer


def _complete(answer: bytes) -> bool:
    head, sep, body = answer.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False  # no length: read until the server closes


@pytest.mark.parametrize("chunked", [False, True])
def test_48_mb_compare_is_refused_while_livez_keeps_answering(
    synthetic_server: Server, chunked: bool
) -> None:
    latencies: list[float] = []
    done = threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=synthetic_server.url, timeout=10) as client:
            while not done.is_set() or len(latencies) < 5:
                start = time.perf_counter()
                assert client.get("/livez").status_code == 200
                latencies.append(time.perf_counter() - start)
                time.sleep(0.02)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        status, answer = _post_raw(synthetic_server.url, "/compare", 48 * MiB, chunked)
    finally:
        done.set()
        poller.join(timeout=30)
    assert status == 413, answer[:500]
    assert b"payload_too_large" in answer
    assert latencies and max(latencies) < 1.0, latencies


def test_compare_with_an_over_long_embedding_is_413(synthetic_server: Server) -> None:
    vec = [0.5] * 4097
    with synthetic_server.client() as client:
        response = client.post("/compare", json={"face1_embedding": vec, "face2_embedding": vec})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "embedding_too_long"


# --- a server with small limits: each setting against hostile input -----------------------

SMALL = {
    "MAX_EMBEDDING_DIM": "64",
    "MAX_MATCH_VALUES": "1000",
    "MAX_BATCH_PIXELS": str(3 * 100 * 100),
    "MAX_SHIP_SIDE": "640",
    "MAX_CONCURRENT_DECODES": "1",
    "ROUTE_MAX_BYTES": json.dumps({"/analyze": 1_000_000}),
}


@pytest.fixture(scope="module")
def small_limits_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The dlib engine (no models in the store) with small intake limits."""
    home = tmp_path_factory.mktemp("limits-store")
    logs = tmp_path_factory.mktemp("limits-logs")
    server = start_server(
        "service:FaceReID", home, logs / "limits.log", {"FACE_ENGINE": "auto", **SMALL}
    )
    yield server
    server.stop()


def test_settings_bound_embeddings_galleries_and_routes(small_limits_server: Server) -> None:
    with small_limits_server.client() as client:
        long_pair = {"face1_embedding": [0.5] * 65, "face2_embedding": [0.5] * 65}
        response = client.post("/compare", json=long_pair)
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "embedding_too_long"
        ok = {"face1_embedding": [0.5] * 64, "face2_embedding": [0.5] * 64}
        assert client.post("/compare", json=ok).json()["similarity"] == pytest.approx(1.0)

        target = [0.5] * 64
        rows = [[0.5] * 64] * 16
        gallery: dict[str, object] = {"target_embedding": target, "embeddings": rows}
        response = client.post("/find_matches", json=gallery)  # 16 x 64 = 1024 > 1000
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "too_many_rows"
        gallery["embeddings"] = rows[:15]
        assert len(client.post("/find_matches", json=gallery).json()) == 15

        response = client.post("/analyze", content=b"{" + b" " * 1_000_001 + b"}")
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"


def test_batch_pixel_budget_refuses_the_images_that_do_not_fit(
    small_limits_server: Server,
) -> None:
    images = [b64_flat(100, 100, fmt="PNG")] * 4
    with small_limits_server.client() as client:
        response = client.post("/analyze_batch", json={"images": images})
    assert response.status_code == 200
    codes = [r["error"]["code"] for r in response.json()["results"]]
    assert codes == ["no_face_detected"] * 3 + ["pixel_budget_exceeded"]


@pytest.mark.testdata
def test_faces_in_a_downscaled_photo_are_reported_in_original_pixels(
    small_limits_server: Server, shared_faces: Path
) -> None:
    pytest.importorskip("dlib")
    from facereid.config import Settings
    from facereid.engines.dlib_engine import DlibEngine
    from facereid.intake.images import decode_image_bytes

    path = shared_faces / "identities" / "obama" / "obama-1080p.jpg"  # 1920 x 1080 > 640
    with small_limits_server.client(timeout=120) as client:
        response = client.post("/analyze", json={"image_data": b64_file(path)})
    assert response.status_code == 200, response.text
    x, y, w, h = response.json()["bbox"]
    full = decode_image_bytes(path.read_bytes(), max_side=4096, max_pixels=4096**2)
    expected = DlibEngine(Settings()).detect([full])[0][0]
    ex1, ey1, ex2, ey2 = expected.bbox.tolist()
    ix = max(0.0, min(x + w, ex2) - max(x, ex1))
    iy = max(0.0, min(y + h, ey2) - max(y, ey1))
    iou = ix * iy / (w * h + (ex2 - ex1) * (ey2 - ey1) - ix * iy)
    assert iou > 0.6, (response.json()["bbox"], expected.bbox)
    landmarks = np.asarray(response.json()["keypoints"])
    assert np.abs(landmarks - expected.kps).max() < 0.15 * (ex2 - ex1)
