"""Video attacks against a real ``bentoml serve`` (issue 12), dlib engine, ``API_KEYS=ka,kb``:
a playlist or concat list that would read server files, frames larger than the header,
another tenant's job, one tenant filling the queue, a huge job id, leftover uploads."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import Server, start_server
from tests.video_builder import (
    ffconcat_self,
    flat_frames,
    hls_playlist,
    lying_mjpeg_mkv,
    t1_scenario,
    write_video,
)

pytestmark = pytest.mark.slow

KA = {"Authorization": "Bearer ka"}
KB = {"Authorization": "Bearer kb"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("data")
    stale = data / "video-uploads" / "job-crashed"  # no job in the store owns it
    stale.mkdir(parents=True)
    (stale / "upload").write_bytes(b"left by a submit that was killed")
    old = time.time() - 3600  # past the grace a fresh submit gets
    os.utime(stale, (old, old))
    return data


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("empty-store")
    logs = tmp_path_factory.mktemp("logs")
    env = {
        "FACE_ENGINE": "auto",
        "API_KEYS": "ka,kb",
        "DATA_DIR": str(data_dir),
        "VIDEO_CONCURRENT_JOBS": "1",
        "VIDEO_MAX_JOBS_PER_TENANT": "2",
    }
    server = start_server("service:FaceReID", home, logs / "video-hostile.log", env)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server_side_video(tmp_path_factory: pytest.TempPathFactory, t1_path: Path) -> Path:
    """A video only the server's disk holds (same machine here)."""
    tom = t1_path.with_name("Tom_Hanks_54745.png")
    folder = tmp_path_factory.mktemp("server-files")
    return write_video(folder / "secret.mp4", t1_scenario(t1_path, tom))


def submit(
    client: httpx.Client, data: bytes, name: str, key: dict[str, str], **form: Any
) -> httpx.Response:
    files = {"video": (name, data, "application/octet-stream")}
    fields = {k: str(v) for k, v in form.items()}
    return client.post("/video/submit", files=files, data=fields, headers=key)


def finished(client: httpx.Client, job_id: str, key: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        status = client.post("/video/status", json={"job_id": job_id}, headers=key).json()
        if status["status"] in ("completed", "failed", "cancelled"):
            return dict(status)
        time.sleep(0.2)
    pytest.fail(f"job {job_id} did not finish")


def test_stale_uploads_were_swept_at_start(server: Server, data_dir: Path) -> None:
    with server.client() as client:
        assert client.get("/readyz").status_code == 200
    deadline = time.monotonic() + 30  # swept by the claim loop's first housekeeping
    while (data_dir / "video-uploads" / "job-crashed").exists():
        assert time.monotonic() < deadline, "a leftover upload was not swept"
        time.sleep(0.5)


def test_hls_playlist_naming_a_server_file_is_refused(
    server: Server, server_side_video: Path
) -> None:
    with server.client() as client:
        response = submit(client, hls_playlist(server_side_video), "p.m3u8", KA)
    assert response.status_code == 415, response.text
    assert response.json()["error"]["code"] == "unsupported_video"


def test_self_referencing_ffconcat_is_refused(server: Server) -> None:
    with server.client() as client:
        response = submit(client, ffconcat_self("upload"), "upload", KA)
    assert response.status_code == 415, response.text
    assert response.json()["error"]["code"] == "unsupported_video"


def test_frames_larger_than_the_header_fail_the_job(server: Server, tmp_path: Path) -> None:
    data = lying_mjpeg_mkv(tmp_path / "lie.mkv", frames=20).read_bytes()
    with server.client() as client:
        accepted = submit(client, data, "lie.mkv", KA, sample_fps=10)
        assert accepted.status_code == 202, accepted.text  # the header is honest-looking
        status = finished(client, accepted.json()["job_id"], KA)
        result = client.post("/video/result", json={"job_id": status["job_id"]}, headers=KA)
    assert status["status"] == "failed"
    assert status["error"]["code"] == "video_resolution_too_large"
    assert result.status_code == 413


def test_another_tenant_cannot_see_fetch_or_cancel_a_job(server: Server, tmp_path: Path) -> None:
    data = write_video(tmp_path / "a.mp4", flat_frames(20)).read_bytes()
    with server.client() as client:
        job_id = submit(client, data, "a.mp4", KA).json()["job_id"]
        finished(client, job_id, KA)
        for route in ("/video/status", "/video/result", "/video/cancel"):
            other = client.post(route, json={"job_id": job_id}, headers=KB)
            assert other.status_code == 404, (route, other.text)
            assert other.json()["error"]["code"] == "job_not_found"
            own = client.post(route, json={"job_id": job_id}, headers=KA)
            assert own.status_code == 200, (route, own.text)


def test_one_tenant_cannot_fill_the_queue(server: Server, tmp_path: Path) -> None:
    # 20 s sampled at 10 fps: slow enough that the first jobs are still queued or running.
    data = write_video(tmp_path / "long.mp4", flat_frames(200), fps=10).read_bytes()
    with server.client(timeout=60) as client:
        first = [submit(client, data, "v.mp4", KA, sample_fps=10) for _ in range(2)]
        third = submit(client, data, "v.mp4", KA, sample_fps=10)
        other = submit(client, data, "v.mp4", KB, sample_fps=10)
        for response in first + [other]:
            assert response.status_code == 202, response.text
        assert third.status_code == 429, third.text
        assert third.json()["error"]["code"] == "too_many_jobs"
        for response in first + [other]:
            key = KB if response is other else KA
            client.post("/video/cancel", json={"job_id": response.json()["job_id"]}, headers=key)


def test_a_huge_job_id_is_not_echoed(server: Server) -> None:
    with server.client() as client:
        long_id = client.post("/video/status", json={"job_id": "x" * 50_000}, headers=KA)
        huge = client.post("/video/status", json={"job_id": "x" * 1_000_000}, headers=KA)
    assert long_id.status_code == 404  # under the route's 64 KiB body cap: looked up, unknown
    assert long_id.json()["error"]["code"] == "job_not_found"
    assert huge.status_code == 413  # over the cap (facereid.web.body_limit): refused unread
    assert huge.json()["error"]["code"] == "payload_too_large"
    for response in (long_id, huge):
        assert len(response.content) < 500


def test_uploads_are_gone_after_their_jobs(server: Server, data_dir: Path) -> None:
    deadline = time.monotonic() + 60  # cancelled jobs end at their next batch of frames
    while True:
        leftovers = list((data_dir / "video-uploads").glob("job-*/upload"))
        if not leftovers or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert leftovers == []
