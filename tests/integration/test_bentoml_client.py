"""BentoML's own clients against a real server, as docs/api.md (*Calling it with BentoML's
client*) tells a user to use them (issue 23)."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import bentoml
import pytest

from tests.harness import Server
from tests.video_builder import t1_scenario, write_video

pytestmark = pytest.mark.slow


def test_sync_client_calls_routes_uploads_and_raises_our_errors(
    dlib_server: Server, t1_path: Path, tmp_path: Path
) -> None:
    image = base64.b64encode(t1_path.read_bytes()).decode()
    with bentoml.SyncHTTPClient(dlib_server.url, timeout=120) as client:
        assert client.is_ready()
        answer = client.analyze(image_data=image, return_all_faces=True)
        assert answer["num_faces"] == 6 and answer["emotions"] is not None  # fer's model
        assert answer["emotion_model"].startswith("facereid-fer:")
        same = client.compare(
            face1_embedding=answer["embedding"], face2_embedding=answer["embedding"]
        )
        assert same["similarity"] == pytest.approx(1.0, abs=1e-5)
        with pytest.raises(bentoml.exceptions.BentoMLException) as refused:
            client.analyze(image_data="not an image")
        assert "invalid_base64" in str(refused.value) or "unsupported_image" in str(refused.value)
        tom = t1_path.with_name("Tom_Hanks_54745.png")
        video = write_video(tmp_path / "clip.mp4", t1_scenario(t1_path, tom))
        job = client.video_submit(video=video, sample_fps=2.0)
        assert job["status"] in ("queued", "running", "completed")
        assert client.video_cancel(job_id=job["job_id"])["job_id"] == job["job_id"]


def test_async_client(dlib_server: Server, t1_path: Path) -> None:
    image = base64.b64encode(t1_path.read_bytes()).decode()

    async def scenario() -> int:
        async with bentoml.AsyncHTTPClient(dlib_server.url, timeout=120) as client:
            assert await client.is_ready()
            answers = await asyncio.gather(
                client.analyze(image_data=image), client.analyze(image_data=image)
            )
            return sum(a["num_faces"] for a in answers)

    assert asyncio.run(scenario()) == 12  # num_faces counts every face of t1.jpg, twice
