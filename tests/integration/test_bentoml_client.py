"""BentoML's own clients against a real server, as docs/api.md (*Calling it with BentoML's
client*) tells a user to use them (issue 23): the image, embedding and video routes by
keyword, the gallery and privacy routes with their body as one dict. Every route the served
``/docs.json`` lists is called through ``SyncHTTPClient`` and ``AsyncHTTPClient`` both, so a
new route fails this test until it is called here."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import bentoml
import pytest

from tests.harness import Server
from tests.video_builder import t1_scenario, write_video

pytestmark = pytest.mark.slow

Call = Callable[..., Awaitable[Any]]


def served_methods(server: Server) -> set[str]:
    """The BentoML method name of each route in ``/docs.json``."""
    with server.client() as client:
        paths = client.get("/docs.json").json()["paths"]
    return {op.get("x-bentoml-name") for item in paths.values() for op in item.values()} - {None}


def error_code(refusal: BaseException, code: str) -> bool:
    """The client's exception's message is our error body (docs/api.md)."""
    return bool(json.loads(str(refusal))["error"]["code"] == code)


async def every_route(call: Call, image: str, video: Path) -> None:
    """One pass over every route, each called as docs/api.md shows; ``call(name, ...)`` is
    ``client.name(...)`` of either client."""
    since = time.time()
    gallery = f"client-{uuid.uuid4().hex[:8]}"
    face = await call("analyze", image_data=image, return_all_faces=True)
    assert face["num_faces"] == 6 and face["emotion_model"].startswith("facereid-fer:")
    embedding, model = face["embedding"], face["embedding_model"]
    batch = await call("analyze_batch", images=[image], include_emotions=False)
    assert batch["results"][0]["num_faces"] == 6
    same = await call("compare", face1_embedding=embedding, face2_embedding=embedding)
    assert same["similarity"] == pytest.approx(1.0, abs=1e-5)
    matches = await call("find_matches", target_embedding=embedding, embeddings=[embedding])
    assert [m["index"] for m in matches] == [0]

    enrolled = await call(
        "gallery_enroll", {"gallery": gallery, "subject": "ada", "image_data": image}
    )
    assert enrolled["subject"] == "ada" and enrolled["embedding_model"] == model
    unnamed = [embedding, embedding]
    rows = {"gallery": gallery, "embedding_model": model, "embeddings": unnamed}
    batch_ids = (await call("gallery_enroll_batch", rows))["face_ids"]
    assert len(batch_ids) == 2
    found = await call("gallery_search", {"gallery": gallery, "image_data": image})
    assert found["matches"][0]["subject"] == "ada"
    subjects = await call("gallery_subjects", {"gallery": gallery})
    assert [s["subject"] for s in subjects["subjects"]] == ["ada"]
    assert len((await call("gallery_faces", {"gallery": gallery}))["faces"]) == 3
    renamed = await call(
        "gallery_rename", {"gallery": gallery, "subject": "ada", "new_subject": "grace"}
    )
    assert renamed["renamed"] == 1
    clusters = await call("gallery_cluster", {"gallery": gallery, "min_faces": 2})
    assert [sorted(c["face_ids"]) for c in clusters["clusters"]] == [sorted(batch_ids)]
    assigned = await call(
        "gallery_assign", {"gallery": gallery, "face_ids": batch_ids, "subject": "bob"}
    )
    assert assigned["assigned"] == 2
    kept = await call("gallery_retention", {"gallery": gallery, "retention_days": 30})
    assert kept["effective_days"] == 30.0
    exported = await call("gallery_export", {"gallery": gallery, "subject": "grace"})
    assert len(exported["faces"]) == 1
    listed = await call("gallery_list")
    assert gallery in [g["gallery"] for g in listed["galleries"]]
    deleted = await call("gallery_delete", {"gallery": gallery, "subject": "bob"})
    assert deleted["deleted"] == 2
    audit = await call("audit_query", {"since": since, "limit": 1000})
    assert {"enroll", "rename", "delete"} <= {
        e["route"] for e in audit["entries"] if e["gallery"] == gallery
    }
    dropped = await call("gallery_drop", {"gallery": gallery})
    assert dropped == {"dropped": gallery, "deleted": 1}  # grace's face
    # the whole tenant goes only with confirm: true (this server's other tests share it)
    with pytest.raises(bentoml.exceptions.BentoMLException) as refused:
        await call("tenant_erase", {"confirm": False})
    assert error_code(refused.value, "invalid_gallery_request"), refused.value

    job = await call("video_submit", video=video, sample_fps=2.0)
    assert job["status"] in ("queued", "running", "completed")
    status = await wait_finished(call, job["job_id"])
    assert status["status"] == "completed", status
    result = await call("video_result", job_id=job["job_id"])
    assert result["job_id"] == job["job_id"] and result["identities"]
    cancelled = await call("video_cancel", job_id=job["job_id"])
    assert cancelled["status"] == "completed"  # a finished job stays finished


async def wait_finished(call: Call, job_id: str, limit_s: float = 240) -> dict[str, Any]:
    """Polls ``video_status`` as docs/video.md says, until the job has ended."""
    deadline = time.monotonic() + limit_s
    while True:
        status: dict[str, Any] = await call("video_status", job_id=job_id)
        if status["status"] not in ("queued", "running") or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.5)


@pytest.fixture(scope="module")
def image(t1_path: Path) -> str:
    return base64.b64encode(t1_path.read_bytes()).decode()


@pytest.fixture(scope="module")
def video(t1_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tom = t1_path.with_name("Tom_Hanks_54745.png")
    return write_video(tmp_path_factory.mktemp("client") / "clip.mp4", t1_scenario(t1_path, tom))


def test_sync_client_calls_every_route_as_documented(
    dlib_server: Server, image: str, video: Path
) -> None:
    called: set[str] = set()
    with bentoml.SyncHTTPClient(dlib_server.url, timeout=120) as client:
        assert client.is_ready()

        async def call(name: str, *args: Any, **kwargs: Any) -> Any:
            called.add(name)
            return getattr(client, name)(*args, **kwargs)

        asyncio.run(every_route(call, image, video))
        assert called == served_methods(dlib_server)
        # what docs/api.md warns of: keywords on a one-body route, and a misspelt field
        with pytest.raises(TypeError, match="one positional argument for root input"):
            client.gallery_search(gallery="g", image_data=image)
        with pytest.raises(TypeError, match="subjet"):
            client.gallery_enroll({"gallery": "g", "subjet": "obama", "image_data": image})
        with pytest.raises(bentoml.exceptions.BentoMLException) as refused:
            client.analyze(image_data="not an image")
        assert error_code(refused.value, "invalid_base64") or error_code(
            refused.value, "unsupported_image"
        ), refused.value


def test_async_client_calls_every_route_as_documented(
    dlib_server: Server, image: str, video: Path
) -> None:
    called: set[str] = set()

    async def scenario() -> int:
        async with bentoml.AsyncHTTPClient(dlib_server.url, timeout=120) as client:
            assert await client.is_ready()

            async def call(name: str, *args: Any, **kwargs: Any) -> Any:
                called.add(name)
                return await getattr(client, name)(*args, **kwargs)

            await every_route(call, image, video)
            answers = await asyncio.gather(
                client.analyze(image_data=image), client.analyze(image_data=image)
            )
            return sum(a["num_faces"] for a in answers)

    assert asyncio.run(scenario()) == 12  # num_faces counts every face of t1.jpg, twice
    assert called == served_methods(dlib_server)
