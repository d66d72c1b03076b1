"""Video identities named from a gallery (issue 13): the real dlib server, a real gallery
store, Lin-Manuel Miranda's photo enrolled and the Hamilton clip submitted with
``gallery``; unknown and other tenants' galleries refused at submit; a model mismatch
reported in the result, not as a failed job."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.harness import Server, start_server
from tests.integration.payloads import b64_file
from tests.integration.test_video_api import submit, wait_finished

pytestmark = pytest.mark.slow

KA = {"Authorization": "Bearer ka"}
KB = {"Authorization": "Bearer kb"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("video-gallery")
    env = {"FACE_ENGINE": "auto", "API_KEYS": "ka,kb"}  # empty model store: dlib
    with start_server("service:FaceReID", root, root / "server.log", env) as running:
        yield running


@pytest.fixture(scope="module")
def clip(shared_faces: Path) -> bytes:
    return (shared_faces / "video" / "short_hamilton_clip.mp4").read_bytes()


def run_with_gallery(client: httpx.Client, clip: bytes, gallery: str) -> dict[str, Any]:
    response = submit(client, clip, gallery=gallery)
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    assert wait_finished(client, job_id, timeout=300)[-1]["status"] == "completed"
    result = client.post("/video/result", json={"job_id": job_id})
    assert result.status_code == 200, result.text
    body: dict[str, Any] = result.json()
    return body


def seen_early_and_late(identity: dict[str, Any]) -> bool:
    spans = [(s["start_s"], s["end_s"]) for s in identity["segments"]]
    early = any(a <= 0.5 and b <= 1.0 for a, b in spans)
    late = any(2.5 <= a <= 3.5 and 6.5 <= b <= 7.5 for a, b in spans)
    return early and late


def test_the_returning_identity_is_named_from_the_gallery(
    server: Server, clip: bytes, shared_faces: Path
) -> None:
    photo = shared_faces / "identities" / "lin_manuel_miranda" / "lin-manuel-miranda.png"
    with httpx.Client(base_url=server.url, timeout=300, headers=KA) as client:
        enrolled = client.post(
            "/gallery/enroll",
            json={"gallery": "cast", "subject": "lin", "image_data": b64_file(photo)},
        )
        assert enrolled.status_code == 200, enrolled.text
        body = run_with_gallery(client, clip, "cast")
    assert body["gallery"] == "cast" and "gallery_error" not in body, body.get("gallery_error")
    assert body["gallery_threshold"] == pytest.approx(0.91)  # dlib's default
    lin = [i for i in body["identities"] if seen_early_and_late(i)]
    assert len(lin) == 1, [i["segments"] for i in body["identities"]]
    assert lin[0]["subject"] == "lin", [(i["subject"], i["similarity"]) for i in body["identities"]]
    assert lin[0]["similarity"] >= body["gallery_threshold"]
    assert lin[0]["gallery_face_id"] == enrolled.json()["face_id"]
    # Nobody else in the clip is taken for him, and every identity carries the keys.
    others = [i for i in body["identities"] if i is not lin[0]]
    assert all(i["subject"] is None and i["similarity"] is None for i in others)


def test_unknown_or_foreign_gallery_refused_at_submit(server: Server, clip: bytes) -> None:
    with server.client(timeout=120) as client:
        made = client.post(
            "/gallery/enroll",
            headers=KA,
            json={"gallery": "mine", "embedding": [1.0, 0.0, 0.0], "embedding_model": "x/y/3"},
        )
        assert made.status_code == 200, made.text
        for headers, gallery in ((KA, "no-such-gallery"), (KB, "mine")):
            files = {"video": ("clip.mp4", clip, "video/mp4")}
            response = client.post(
                "/video/submit", files=files, data={"gallery": gallery}, headers=headers
            )
            assert response.status_code == 404, response.text
            assert response.json()["error"]["code"] == "gallery_not_found"
        for bad in ("../etc", "", "x" * 65, "a b"):
            files = {"video": ("clip.mp4", clip, "video/mp4")}
            response = client.post("/video/submit", files=files, data={"gallery": bad}, headers=KA)
            assert response.status_code in (400, 422), (bad, response.text)
            assert response.json()["error"]["code"] in ("invalid_gallery_request", "invalid_input")
        # issue 22: each refusal is in the refused tenant's own audit log, and only there
        for headers, gallery, other in ((KA, "no-such-gallery", KB), (KB, "mine", KA)):
            mine = client.post("/audit/query", json={"limit": 1000}, headers=headers).json()
            theirs = client.post("/audit/query", json={"limit": 1000}, headers=other).json()
            entry = ("video_submit", gallery, "gallery_not_found")
            seen = [(e["route"], e["gallery"], e.get("refused")) for e in mine["entries"]]
            assert entry in seen, seen
            assert entry not in [
                (e["route"], e["gallery"], e.get("refused")) for e in theirs["entries"]
            ]


def test_a_gallery_of_another_model_leaves_the_job_completed_with_gallery_error(
    server: Server, clip: bytes
) -> None:
    vector = np.zeros(64)
    vector[0] = 1.0
    with httpx.Client(base_url=server.url, timeout=300, headers=KA) as client:
        made = client.post(
            "/gallery/enroll",
            json={
                "gallery": "other-model",
                "subject": "someone",
                "embedding": vector.tolist(),
                "embedding_model": "test/random/64",
            },
        )
        assert made.status_code == 200, made.text
        body = run_with_gallery(client, clip, "other-model")
    assert body["num_identities"] >= 1
    assert body["gallery_error"]["code"] == "embedding_model_mismatch"
    assert all(i["subject"] is None for i in body["identities"])
