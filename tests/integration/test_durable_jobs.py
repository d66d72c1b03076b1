"""Durable video jobs with real processes: results survive ``kill -9`` and a restart on the
same ``DATA_DIR``; a job whose worker was killed ends ``worker_lost`` (never 404, never stuck
``running``) while a queued one runs after the restart; two replicas sharing Redis answer for
each other's jobs (poll, result, cancel, expiry); two API workers in one server share them.

The dlib engine (an empty model store) processes the real Hamilton clip (10 s, 640x360).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import Server, start_server
from tests.redis_helper import redis_server

pytestmark = pytest.mark.slow

FINISHED = ("completed", "failed", "cancelled")


@pytest.fixture(scope="module")
def clip(shared_faces: Path) -> bytes:
    path = shared_faces / "video" / "short_hamilton_clip.mp4"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return path.read_bytes()


@pytest.fixture(scope="module")
def empty_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("empty-store")  # no models: the dlib engine answers


@pytest.fixture
def serve(empty_home: Path, tmp_path: Path) -> Iterator[Any]:
    """Starts servers (stopped at the end) over ``DATA_DIR`` and any extra settings."""
    started: list[Server] = []

    def start(name: str, data_dir: Path, **env: str) -> Server:
        settings = {"FACE_ENGINE": "auto", "DATA_DIR": str(data_dir), **env}
        server = start_server("service:FaceReID", empty_home, tmp_path / f"{name}.log", settings)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def kill_9(server: Server) -> None:
    """SIGKILL the server and every worker below it, as a crashed host would: no shutdown
    hook runs, nothing is handed back."""
    workers = _descendants(server.process.pid)
    os.killpg(server.process.pid, signal.SIGKILL)
    for pid in workers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    server.process.wait(timeout=30)
    server.stop()  # closes the log


def submit(url: str, clip: bytes, **form: Any) -> dict[str, Any]:
    files = {"video": ("hamilton.mp4", clip, "video/mp4")}
    fields = {k: str(v) for k, v in form.items()}
    response = httpx.post(f"{url}/video/submit", files=files, data=fields, timeout=120)
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def status(url: str, job_id: str) -> httpx.Response:
    # a fresh connection per call, so several API workers get their share of them
    return httpx.post(f"{url}/video/status", json={"job_id": job_id}, timeout=60)


def wait_for(url: str, job_id: str, wanted: tuple[str, ...], timeout: float = 300) -> Any:
    """Polls until the job reaches one of ``wanted``; every answer must be a 200."""
    deadline = time.monotonic() + timeout
    while True:
        response = status(url, job_id)
        assert response.status_code == 200, response.text  # never 404 while it lives
        body = response.json()
        if body["status"] in wanted:
            return body
        assert time.monotonic() < deadline, f"job {job_id} stuck: {body}"
        time.sleep(0.2)


def result(url: str, job_id: str) -> httpx.Response:
    return httpx.post(f"{url}/video/result", json={"job_id": job_id}, timeout=60)


def test_a_result_survives_kill_9_and_a_restart(serve: Any, clip: bytes, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = serve("first", data)
    job = submit(first.url, clip, sample_fps=1)
    done = wait_for(first.url, job["job_id"], FINISHED)
    assert done["status"] == "completed", done
    before = result(first.url, job["job_id"])
    assert before.status_code == 200 and before.json()["num_identities"] >= 1
    kill_9(first)

    second = serve("second", data)
    after_status = status(second.url, job["job_id"])
    assert after_status.status_code == 200
    assert after_status.json()["status"] == "completed"
    assert after_status.json()["finished_at"] == done["finished_at"]
    after = result(second.url, job["job_id"])
    assert after.status_code == 200
    assert after.json() == before.json()  # the same result, not a recomputed one
    missing = status(second.url, "0" * 32)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "job_not_found"


def test_kill_9_while_running_ends_worker_lost_and_queued_jobs_still_run(
    serve: Any, clip: bytes, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    env = {"VIDEO_JOB_LEASE_S": "5", "VIDEO_JOB_MAX_ATTEMPTS": "1", "VIDEO_CONCURRENT_JOBS": "1"}
    first = serve("first", data, **env)
    running = submit(first.url, clip, sample_fps=10)  # ~100 frames: long enough to kill
    queued = submit(first.url, clip, sample_fps=1)
    wait_for(first.url, running["job_id"], ("running",))
    assert status(first.url, queued["job_id"]).json()["status"] == "queued"
    kill_9(first)
    assert (data / "video-uploads" / f"job-{queued['job_id']}" / "upload").is_file()

    second = serve("second", data, **env)
    lost = wait_for(second.url, running["job_id"], FINISHED)
    assert lost["status"] == "failed", lost
    assert lost["error"]["code"] == "worker_lost"
    answer = result(second.url, running["job_id"])
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "worker_lost"
    ran = wait_for(second.url, queued["job_id"], FINISHED)
    assert ran["status"] == "completed", ran  # accepted before the crash, run after it
    assert result(second.url, queued["job_id"]).json()["num_identities"] >= 1
    deadline = time.monotonic() + 30
    while list((data / "video-uploads").glob("job-*/upload")):  # both jobs ended
        assert time.monotonic() < deadline, "uploads of ended jobs were left behind"
        time.sleep(0.5)


def test_a_graceful_stop_hands_the_running_job_back(
    serve: Any, clip: bytes, tmp_path: Path
) -> None:
    """SIGTERM (a rolling update): the running job goes back to the queue at once, not after
    its lease, and the next server runs it from the start."""
    from facereid.video.store_sqlite import SQLiteJobStore

    data = tmp_path / "data"
    env = {"VIDEO_JOB_LEASE_S": "600"}  # only the hand-back can free it before the test ends
    first = serve("first", data, **env)
    job = submit(first.url, clip, sample_fps=10)
    wait_for(first.url, job["job_id"], ("running",))
    first.stop()  # SIGTERM to the server's group, waits for it to exit

    store = SQLiteJobStore(data / "jobs.sqlite3")
    record = store.load(job["job_id"])
    store.close()
    assert record is not None
    assert (record.status, record.worker) == ("queued", None)
    # The hook hands it back; if the model services went first, the failed attempt is queued
    # again instead of ending the job: either way at most one attempt is spent.
    assert record.attempts <= 1

    second = serve("second", data, **env)
    done = wait_for(second.url, job["job_id"], FINISHED)
    assert done["status"] == "completed", done
    assert done["progress"]["frames_done"] == done["progress"]["frames_total"] > 50


def test_two_replicas_sharing_redis_answer_for_each_others_jobs(
    serve: Any, clip: bytes, tmp_path: Path
) -> None:
    data = tmp_path / "shared-data"  # the volume both replicas mount
    with redis_server() as url:
        env = {"JOB_STORE_URL": url, "VIDEO_RESULT_TTL_S": "20", "VIDEO_CONCURRENT_JOBS": "1"}
        one, two = serve("one", data, **env), serve("two", data, **env)

        job = submit(one.url, clip, sample_fps=1)
        done = wait_for(two.url, job["job_id"], FINISHED)
        assert done["status"] == "completed", done
        fetched = result(two.url, job["job_id"])
        assert fetched.status_code == 200, fetched.text
        assert fetched.json() == result(one.url, job["job_id"]).json()

        long = submit(one.url, clip, sample_fps=10)
        wait_for(two.url, long["job_id"], ("running",))
        cancel = httpx.post(f"{two.url}/video/cancel", json={"job_id": long["job_id"]}, timeout=60)
        assert cancel.status_code == 200, cancel.text
        ended = wait_for(one.url, long["job_id"], FINISHED, timeout=60)
        assert ended["status"] == "cancelled"
        assert ended["error"]["code"] == "job_cancelled"
        assert ended["progress"]["frames_done"] < ended["progress"]["frames_total"]

        deadline = time.monotonic() + 60  # both results expire (TTL 20 s) on both replicas
        for server in (one, two):
            while (response := status(server.url, job["job_id"])).status_code == 200:
                assert time.monotonic() < deadline, "an expired job is still answered"
                time.sleep(1)
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "job_not_found"
            expired = result(server.url, job["job_id"])
            assert expired.status_code == 404
            assert expired.json()["error"]["code"] == "job_not_found"


def test_two_api_workers_share_the_jobs(serve: Any, clip: bytes, tmp_path: Path) -> None:
    server = serve("workers", tmp_path / "data", API_WORKERS="2")
    workers = _api_worker_pids(server)
    assert len(workers) == 2, workers
    job = submit(server.url, clip, sample_fps=1)
    for _ in range(20):  # fresh connections land on either worker: all of them know the job
        assert status(server.url, job["job_id"]).status_code == 200
    done = wait_for(server.url, job["job_id"], FINISHED)
    assert done["status"] == "completed", done
    answers = {result(server.url, job["job_id"]).text for _ in range(6)}
    assert len(answers) == 1  # one stored result, whichever worker answers


def test_an_unreachable_job_store_answers_503_and_keeps_no_upload(
    serve: Any, clip: bytes, tmp_path: Path
) -> None:
    from tests.harness import free_port

    data = tmp_path / "data"
    server = serve("no-store", data, JOB_STORE_URL=f"redis://127.0.0.1:{free_port()}/0")
    files = {"video": ("hamilton.mp4", clip, "video/mp4")}
    submitted = httpx.post(f"{server.url}/video/submit", files=files, timeout=120)
    polled = status(server.url, "0" * 32)
    for response in (submitted, polled):
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "job_store_unavailable"
        assert "Traceback" not in response.text
    assert list((data / "video-uploads").glob("job-*/upload")) == []  # nothing left behind
    assert server.process.poll() is None  # the claim loop retries; the server stays up


def _api_worker_pids(server: Server) -> list[int]:
    """The server's processes that serve the API service (not the model services)."""
    pids = []
    for pid in _descendants(server.process.pid):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--service-name" in argv and argv[argv.index(b"--service-name") + 1] == b"FaceReID":
            pids.append(pid)
    return pids


def _descendants(root: int) -> list[int]:
    """Every process below ``root``: BentoML puts each worker in a process group of its own,
    so killing the server's group alone would leave them running."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        for child in children.get(pid, []):
            found.append(child)
            todo.append(child)
    return found
