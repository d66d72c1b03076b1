"""Video jobs over HTTP against the real dlib server: submit, progress, result, cancel,
bad videos; /analyze keeps answering while a video runs."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.harness import Server
from tests.integration.payloads import b64_file
from tests.video_builder import flat_frames, write_video

pytestmark = pytest.mark.slow


def submit(
    client: httpx.Client, data: bytes, name: str = "clip.mp4", **form: Any
) -> httpx.Response:
    files = {"video": (name, data, "video/mp4")}
    return client.post("/video/submit", files=files, data={k: str(v) for k, v in form.items()})


def wait_finished(client: httpx.Client, job_id: str, timeout: float = 240) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.post("/video/status", json={"job_id": job_id}).json()
        seen.append(status)
        if status["status"] in ("completed", "failed", "cancelled"):
            return seen
        time.sleep(0.1)
    pytest.fail(f"job {job_id} not finished after {timeout}s: {seen[-1]}")


def test_video_job_end_to_end(dlib_server: Server, scenario_mp4: bytes, t1_path: Path) -> None:
    with dlib_server.client(timeout=120) as client:
        started = time.monotonic()
        response = submit(client, scenario_mp4, sample_fps=2)
        assert response.status_code == 202, response.text
        assert time.monotonic() - started < 10  # answered before the frames are processed
        job = response.json()
        assert job["status"] == "queued"
        assert job["progress"]["frames_total"] == 14
        # Progress is polled from the moment of submission, beside the /analyze below: on a
        # busy machine that /analyze can outlast the whole job, and a poll only after it saw
        # nothing but the end (CI once saw [14]).
        polled: list[list[dict[str, Any]]] = []

        def poll() -> None:
            with dlib_server.client() as own:
                polled.append(wait_finished(own, job["job_id"]))

        poller = threading.Thread(target=poll)
        poller.start()
        early = client.post("/video/result", json={"job_id": job["job_id"]})
        assert early.status_code == 409
        assert early.json()["error"]["code"] == "job_not_finished"

        # /analyze still answers while the video's frames go through the face service.
        image = client.post("/analyze", json={"image_data": b64_file(t1_path)})
        assert image.status_code == 200, image.text
        assert image.json()["num_faces"] == 6

        poller.join()
        (seen,) = polled
        result = client.post("/video/result", json={"job_id": job["job_id"]})
    assert seen[-1]["status"] == "completed", seen[-1]
    done = [s["progress"]["frames_done"] for s in seen]
    assert done == sorted(done)
    assert any(0 < d < 14 for d in done), done  # progress moved through the chunks
    assert seen[-1]["progress"] == {"frames_done": 14, "frames_total": 14, "fraction": 1.0}
    assert seen[-1]["expires_at"] is not None

    assert result.status_code == 200, result.text
    body = result.json()
    assert body["num_identities"] == 7
    assert body["embedding_model"].startswith("dlib/")
    # Back after leaving (tests/unit/facereid/video/test_identities.py): a face missed in one
    # sampled frame of the first window may split it, so count first/last segments.
    returning = [
        i
        for i in body["identities"]
        if len(i["segments"]) >= 2
        and i["segments"][0]["start_s"] < 0.3
        and i["segments"][-1]["start_s"] > 5.0
    ]
    assert len(returning) == 3
    # no CLIP on this server: fer's model scores each identity's best face
    scored = [i["emotions"] for i in body["identities"] if i["emotions"] is not None]
    assert scored and all(len(e) == 7 and "neutral" in e for e in scored)
    assert all(sum(e.values()) == pytest.approx(1.0, abs=1e-4) for e in scored)
    first = np.asarray(body["identities"][0]["embedding"])
    assert first.shape == (128,)


def test_identity_embeddings_work_with_compare(dlib_server: Server, scenario_mp4: bytes) -> None:
    """...and, asked for, each identity's best face has the engine's attributes (issue 24):
    with dlib a head pose and no invented age or gender."""
    with dlib_server.client(timeout=120) as client:
        job = submit(client, scenario_mp4[:], sample_fps=1, include_attributes="true").json()
        wait_finished(client, job["job_id"])
        body = client.post("/video/result", json={"job_id": job["job_id"]}).json()
        for identity in body["identities"]:
            attributes = identity["attributes"]
            assert attributes["pose"] is not None and abs(attributes["pose"]["yaw"]) < 60
            assert attributes["age"] is None and "dlib" in attributes["reason"]
        a, b = body["identities"][0], body["identities"][1]
        same = client.post(
            "/compare",
            json={
                "face1_embedding": a["embedding"],
                "face2_embedding": a["embedding"],
                "face1_model": a["embedding_model"],
                "face2_model": a["embedding_model"],
            },
        ).json()
        other = client.post(
            "/compare", json={"face1_embedding": a["embedding"], "face2_embedding": b["embedding"]}
        ).json()
    assert same["similarity"] == pytest.approx(1.0, abs=1e-5)
    assert other["similarity"] < 0.91


def test_cancel(dlib_server: Server, scenario_mp4: bytes) -> None:
    with dlib_server.client(timeout=120) as client:
        job = submit(client, scenario_mp4, sample_fps=4).json()
        cancel = client.post("/video/cancel", json={"job_id": job["job_id"]})
        assert cancel.status_code == 200, cancel.text
        seen = wait_finished(client, job["job_id"])
        result = client.post("/video/result", json={"job_id": job["job_id"]})
    assert seen[-1]["status"] == "cancelled"
    assert seen[-1]["error"]["code"] == "job_cancelled"
    assert result.status_code == 409
    assert result.json()["error"]["code"] == "job_cancelled"


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [
        (lambda mp4: b"not a video, just text " * 40, 415, "unsupported_video"),
        (lambda mp4: mp4[: len(mp4) // 2], 400, "invalid_video"),
        (lambda mp4: b"", 422, "empty_video"),
    ],
    ids=["not-a-video", "truncated", "empty"],
)
def test_bad_videos_are_refused_at_submit(
    dlib_server: Server, scenario_mp4: bytes, make: Any, status: int, code: str
) -> None:
    with dlib_server.client() as client:
        response = submit(client, make(scenario_mp4))
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_zero_frame_video_fails_its_job(dlib_server: Server, tmp_path: Path) -> None:
    data = write_video(tmp_path / "z.webm", flat_frames(10), codec="libvpx").read_bytes()
    header_only = data[: data.find(bytes.fromhex("1F43B675")) + 4]
    with dlib_server.client() as client:
        job = submit(client, header_only, name="z.webm").json()
        seen = wait_finished(client, job["job_id"])
        result = client.post("/video/result", json={"job_id": job["job_id"]})
    assert seen[-1]["status"] == "failed"
    assert seen[-1]["error"]["code"] == "empty_video"
    assert result.status_code == 422


def test_unknown_job_and_bad_sample_rate(dlib_server: Server) -> None:
    with dlib_server.client() as client:
        missing = client.post("/video/status", json={"job_id": "nope"})
        bad_fps = submit(client, b"irrelevant", sample_fps=0)
        # a flag that is not a boolean is refused before any job exists (issue 24)
        bad_flags = [submit(client, b"irrelevant", include_attributes=v) for v in ("banana", 2)]
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "job_not_found"
    assert bad_fps.status_code == 422
    for bad in bad_flags:
        assert bad.status_code == 422, bad.text
        assert bad.json()["error"]["code"] == "invalid_request"
        assert "Traceback" not in bad.text


def test_emotions_of_the_best_faces_when_clip_is_up(
    synthetic_server: Server, scenario_mp4: bytes
) -> None:
    """Synthetic models (labelled so): the point is the plumbing, the best face of each
    identity is scored by the CLIP service."""
    with synthetic_server.client(timeout=120) as client:
        job = submit(client, scenario_mp4, sample_fps=1).json()
        seen = wait_finished(client, job["job_id"])
        body = client.post("/video/result", json={"job_id": job["job_id"]}).json()
    assert seen[-1]["status"] == "completed", (seen[-1], synthetic_server.log()[-3000:])
    assert body["identities"], body
    scored = [i for i in body["identities"] if i["emotions"] is not None]
    # Synthetic boxes may lie mostly outside the frame: those faces get no crop to score.
    assert scored, body["identities"]
    assert "emotion scoring failed" not in synthetic_server.log()
    for identity in scored:
        assert sum(identity["emotions"].values()) == pytest.approx(1.0, abs=1e-3)
        assert identity["dominant_emotion"] in identity["emotions"]
