"""Erasure and log hygiene through a real server (issue 22; docs/privacy.md).

One server (dlib engine, its own DATA_DIR) serves the module: a subject delete and a gallery
drop sent as a tenant would leave no file under DATA_DIR holding the erased vector, its
subject's name or its metadata; mis-typed bodies carrying a name, a base64 embedding and a
metadata value leave none of them in the server's log, at any level.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.harness import Server, start_server
from tests.integration.payloads import b64_file
from tests.integration.test_video_api import submit, wait_finished
from tests.unit.facereid.gallery.test_erasure import chunks, files_holding, hnsw_copy
from tests.video_builder import flat_frames, write_video

pytestmark = pytest.mark.slow

MODEL = "test/privacy/64"
NAME = "Jane Q Public"
SECRET = "passport-X7654321"
OTHERS = 1_200  # past Chroma's sync threshold: the vectors reach the HNSW files
KEPT_FACE = {"embedding": [1.0] + [0.0] * 63, "embedding_model": MODEL}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("privacy")
    env = {"FACE_ENGINE": "auto", "DATA_DIR": str(root / "data"), "API_KEYS": "ka,kb"}
    with start_server("service:FaceReID", root / "home", root / "server.log", env) as started:
        started.data_dir = root / "data"  # type: ignore[attr-defined]
        yield started


KA = {"Authorization": "Bearer ka"}  # tenant A
KB = {"Authorization": "Bearer kb"}  # tenant B


def post(server: Server, path: str, body: Any, headers: dict[str, str] = KA) -> httpx.Response:
    with server.client(timeout=300) as client:
        return client.post(path, json=body, headers=headers)


def rows(n: int, seed: int) -> np.ndarray:
    values = np.random.default_rng(seed).normal(size=(n, 64))
    return np.asarray(values / np.linalg.norm(values, axis=1, keepdims=True), np.float32)


def b64(matrix: np.ndarray) -> str:
    return base64.b64encode(matrix.astype("<f4").tobytes()).decode()


def enroll_known(
    server: Server, gallery: str, seed: int, headers: dict[str, str] = KA
) -> dict[str, list[bytes]]:
    known = rows(1, seed)
    answer = post(
        server,
        "/gallery/enroll",
        {
            "gallery": gallery,
            "subject": NAME,
            "embedding": known[0].tolist(),
            "embedding_model": MODEL,
            "metadata": {"doc": SECRET},
        },
        headers,
    )
    assert answer.status_code == 200, answer.text
    body = {"gallery": gallery, "embedding_model": MODEL, "dim": 64}
    others = rows(OTHERS, 1)
    for start in range(0, OTHERS, 600):  # batches of at most 1,000
        chunk = b64(others[start : start + 600])
        answer = post(server, "/gallery/enroll_batch", {**body, "embeddings_b64": chunk}, headers)
        assert answer.status_code == 200, answer.text
    data_dir: Path = server.data_dir  # type: ignore[attr-defined]
    return {
        "vector": chunks(known.tobytes()),
        "hnsw": chunks(hnsw_copy(data_dir, known[0])),
        "name": [NAME.encode()],
        "meta": [SECRET.encode()],
    }


@pytest.mark.parametrize("route", ["delete", "drop", "tenant"])
def test_erased_subject_leaves_no_byte_under_data_dir(server: Server, route: str) -> None:
    gallery = f"erase-{route}"
    needles = enroll_known(server, gallery, seed=len(route))
    data_dir: Path = server.data_dir  # type: ignore[attr-defined]
    before = {what for what, _ in files_holding(data_dir, needles)}
    assert before >= {"hnsw", "name", "meta"}  # the test can fail
    if route == "tenant":  # tenant B's gallery must survive A's erase
        kept = post(server, "/gallery/enroll", {"gallery": "b", **KEPT_FACE}, KB)
        assert kept.status_code == 200, kept.text
        answer = post(server, "/tenant/erase", {"confirm": True})
        assert answer.status_code == 200, answer.text
        assert answer.json()["galleries"] >= 1
        assert post(server, "/gallery/list", {}).json()["galleries"] == []
        listed = post(server, "/gallery/list", {}, KB).json()["galleries"]
        assert [(g["gallery"], g["faces"]) for g in listed] == [("b", 1)]
    else:
        one = {"gallery": gallery, "subject": NAME} if route == "delete" else {"gallery": gallery}
        answer = post(server, f"/gallery/{route}", one)
        assert answer.status_code == 200, answer.text
    assert files_holding(data_dir, needles) == set()
    if route == "delete":  # the gallery still answers, without the erased subject
        listed = post(server, "/gallery/list", {}).json()["galleries"]
        assert {g["gallery"]: g["faces"] for g in listed}[gallery] == OTHERS
        assert post(server, "/gallery/subjects", {"gallery": gallery}).json()["subjects"] == []


def test_tenant_erase_takes_its_video_jobs_uploads_and_cached_analyses(
    server: Server, scenario_mp4: bytes, t1_path: Path, tmp_path: Path
) -> None:
    """Issue 22: beside the galleries, a tenant erase deletes the tenant's video jobs (the
    result naming a gallery subject, a job still queued or running, their uploads) and its
    repeated-image cache entries: no file under DATA_DIR holds the video's bytes, the
    result's embedding or the cached analysis afterwards; tenant B's job stays."""
    data_dir: Path = server.data_dir  # type: ignore[attr-defined]
    with httpx.Client(base_url=server.url, timeout=300, headers=KA) as client:
        enrolled = client.post(
            "/gallery/enroll",
            json={"gallery": "cast", "subject": NAME, "image_data": b64_file(t1_path)},
        )
        assert enrolled.status_code == 200, enrolled.text
        body = {"image_data": b64_file(t1_path), "include_emotions": False}  # cached only so
        analysed = client.post("/analyze", json=body)
        assert analysed.status_code == 200, analysed.text
        done = submit(client, scenario_mp4, gallery="cast").json()["job_id"]
        assert wait_finished(client, done)[-1]["status"] == "completed"
        result = client.post("/video/result", json={"job_id": done}).json()
        assert any(i["subject"] == NAME for i in result["identities"])  # the test can fail
        pending = submit(client, scenario_mp4).json()["job_id"]
    faceless = write_video(tmp_path / "b.mp4", flat_frames(10)).read_bytes()  # B's own video
    with httpx.Client(base_url=server.url, timeout=300, headers=KB) as client:
        kept = submit(client, faceless).json()["job_id"]
    embedding = analysed.json()["embedding"]
    needles = {
        "video": chunks(scenario_mp4[len(scenario_mp4) // 2 :][:4096], 64),
        "analysis": [",".join(repr(x) for x in embedding[:4]).encode()],
        "result": [",".join(repr(x) for x in result["identities"][0]["embedding"][:4]).encode()],
        "name": [NAME.encode()],
    }
    assert {what for what, _ in files_holding(data_dir, needles)} >= {"video", "analysis"}
    answer = post(server, "/tenant/erase", {"confirm": True})
    assert answer.status_code == 200, answer.text
    assert answer.json()["video_jobs"] == 2 and answer.json()["cached_analyses"] == 1
    for job_id in (done, pending):
        status = post(server, "/video/status", {"job_id": job_id})
        assert status.status_code == 404, status.text
    assert post(server, "/video/status", {"job_id": kept}, KB).status_code == 200
    with httpx.Client(base_url=server.url, timeout=300, headers=KB) as client:
        assert wait_finished(client, kept)[-1]["status"] == "completed"
    assert files_holding(data_dir, needles) == set()
    # the audit log kept who ran a job on the gallery and read its names (no name in it)
    entries = post(server, "/audit/query", {"limit": 1000}).json()["entries"]
    video = [(e["route"], e.get("job_id")) for e in entries if e["route"].startswith("video_")]
    assert video[-2:] == [("video_submit", done), ("video_result", done)]
    read = next(e for e in entries if e["route"] == "video_result" and e["job_id"] == done)
    assert read["gallery"] == "cast" and read["counts"]["named"] >= 1
    assert entries[-1]["route"] == "erase_tenant" and entries[-1]["counts"]["video_jobs"] == 2
    assert NAME not in json.dumps(entries)


@pytest.mark.parametrize(
    "body",
    [{}, {"confirm": False}, {"confirm": "true"}, {"confirm": 1}, {"confirm": [True]}],
)
def test_tenant_erase_needs_confirm_true(server: Server, body: dict[str, Any]) -> None:
    kept = post(server, "/gallery/enroll", {"gallery": "confirm", **KEPT_FACE})
    assert kept.status_code == 200, kept.text
    answer = post(server, "/tenant/erase", body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] in ("invalid_request", "invalid_gallery_request")
    listed = post(server, "/gallery/list", {}).json()["galleries"]
    assert "confirm" in [g["gallery"] for g in listed]


def test_tenant_erase_refuses_a_huge_body(server: Server) -> None:
    kept = post(server, "/gallery/enroll", {"gallery": "huge", **KEPT_FACE})
    assert kept.status_code == 200, kept.text
    answer = post(server, "/tenant/erase", {"confirm": True, "pad": "x" * (1 << 20)})
    assert answer.status_code == 413, answer.text
    listed = post(server, "/gallery/list", {}).json()["galleries"]
    assert "huge" in [g["gallery"] for g in listed]


def test_refused_bodies_leave_no_value_in_the_log(server: Server) -> None:
    blob = b64(rows(1, 99))
    hostile = [
        ("/gallery/enroll", {"gallery": "g", "subject": [NAME], "embedding_b64": blob}),
        ("/gallery/enroll", {"gallery": "g", "embedding": blob, "metadata": SECRET}),
        ("/gallery/search", {"gallery": ["g", NAME], "embedding_b64": {"x": blob}}),
        ("/gallery/delete", {"gallery": "g", "subject": {"name": NAME, "doc": SECRET}}),
        ("/gallery/enroll_batch", {"gallery": "g", "embedding_model": NAME, "dim": SECRET}),
    ]
    for path, body in hostile:
        answer = post(server, path, body)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "invalid_request"
    log = server.log()
    assert "invalid_request" in log  # the refusals were logged, without their values
    for needle in (NAME, SECRET, blob[:16], blob[-16:]):
        assert needle not in log, log[log.find(needle) - 300 :][:800]


def test_export_hands_a_subject_their_data_and_only_their_tenants(server: Server) -> None:
    known = rows(1, 42)[0]
    body = {"gallery": "exp", "subject": NAME, "embedding_model": MODEL}
    first = post(server, "/gallery/enroll", {**body, "embedding": known.tolist(), "image_id": "x"})
    assert first.status_code == 200, first.text
    post(server, "/gallery/enroll", {**body, "subject": "Someone Else", **KEPT_FACE})
    plain = post(server, "/gallery/export", {"gallery": "exp", "subject": NAME})
    assert plain.status_code == 200, plain.text
    got = plain.json()
    assert [f["face_id"] for f in got["faces"]] == [first.json()["face_id"]]
    (face,) = got["faces"]
    assert face["subject"] == NAME and face["source"] == "x" and face.get("embedding") is None
    assert got["video_jobs"] == [] and got["next_cursor"] is None
    assert got["embedding_model"] == MODEL
    full = post(
        server, "/gallery/export", {"gallery": "exp", "subject": NAME, "include_embeddings": True}
    ).json()
    assert np.allclose(full["faces"][0]["embedding"], known, atol=1e-5)
    # tenant B: A's gallery does not exist for it
    theirs = post(server, "/gallery/export", {"gallery": "exp", "subject": NAME}, KB)
    assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "gallery_not_found"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"gallery": "exp", "subject": [NAME]}, 422),
        ({"gallery": "exp", "subject": None}, 422),
        ({"gallery": "exp"}, 422),
        ({"gallery": "exp", "subject": NAME, "include_embeddings": "yes"}, 422),
        ({"gallery": "exp", "subject": NAME, "limit": 0}, 422),
        ({"gallery": "exp", "subject": NAME, "cursor": "not-ours"}, 400),
        ({"gallery": "exp", "subject": NAME, "pad": "x" * (1 << 20)}, 413),
    ],
)
def test_export_refuses_hostile_bodies(server: Server, body: dict[str, Any], status: int) -> None:
    answer = post(server, "/gallery/export", body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"]


def test_audit_is_per_tenant_chained_and_holds_no_biometric_bytes(server: Server) -> None:
    known = rows(1, 77)[0]
    body = {"gallery": "audited", "subject": NAME, "embedding_model": MODEL}
    enrolled = post(
        server, "/gallery/enroll", {**body, "embedding": known.tolist(), "metadata": {"d": SECRET}}
    )
    assert enrolled.status_code == 200, enrolled.text
    post(server, "/gallery/search", {"gallery": "audited", **KEPT_FACE})
    post(server, "/gallery/delete", {"gallery": "audited", "subject": NAME})
    # refusals are entries too: an unknown gallery, and B reaching for A's gallery
    assert post(server, "/gallery/search", {"gallery": "absent", **KEPT_FACE}).status_code == 404
    reach = post(server, "/gallery/drop", {"gallery": "audited"}, KB)
    assert reach.status_code == 404, reach.text
    entries, cursor = [], 0
    while True:  # pages of 2 by cursor
        page = post(server, "/audit/query", {"cursor": cursor, "limit": 2}).json()
        entries += page["entries"]
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    routes = [(e["route"], e["gallery"]) for e in entries if e["gallery"] == "audited"]
    assert routes == [("enroll", "audited"), ("search", "audited"), ("delete", "audited")]
    mine = [e for e in entries if e["gallery"] == "audited"]
    assert mine[0]["key_id"] and mine[0]["request_id"] and mine[2]["counts"]["deleted"] == 1
    assert mine[0]["subject_digest"] == mine[2]["subject_digest"] is not None
    text = json.dumps(entries)
    for needle in (NAME, SECRET, b64(known[None, :])[:16]):
        assert needle not in text
    # a hash chain from the first entry on
    for before, after in itertools.pairwise(entries):
        assert after["prev_hash"] == before["hash"]
    refused = [(e["route"], e["gallery"], e["refused"]) for e in entries if e.get("refused")]
    assert refused[-1] == ("search", "absent", "gallery_not_found")
    # tenant B reads none of A's entries, and a time window excludes them
    theirs = post(server, "/audit/query", {}, KB).json()["entries"]
    assert ("drop", "audited", "gallery_not_found") in [
        (e["route"], e["gallery"], e.get("refused")) for e in theirs
    ]
    assert not {e["hash"] for e in theirs} & {e["hash"] for e in entries}
    assert post(server, "/audit/query", {"until": 1.0}).json()["entries"] == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"limit": 0}, 422),
        ({"cursor": -1}, 422),
        ({"since": "yesterday"}, 422),
        ({"cursor": "5"}, 422),
        ({"pad": "x" * (1 << 20)}, 413),
    ],
)
def test_audit_query_refuses_hostile_bodies(
    server: Server, body: dict[str, Any], status: int
) -> None:
    answer = post(server, "/audit/query", body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"]


def test_retention_of_another_tenants_gallery_is_not_found(server: Server) -> None:
    """Tenant B cannot read or change tenant A's retention: the gallery does not exist for B,
    exactly as an unknown one (docs/privacy.md); A's stays as A set it."""
    post(server, "/gallery/enroll", {"gallery": "kept-a", **KEPT_FACE})
    mine = post(server, "/gallery/retention", {"gallery": "kept-a", "retention_days": 30})
    assert mine.status_code == 200, mine.text
    theirs = post(server, "/gallery/retention", {"gallery": "kept-a", "retention_days": 0}, KB)
    assert theirs.status_code == 404, theirs.text
    assert theirs.json()["error"]["code"] == "gallery_not_found"
    unknown = post(server, "/gallery/retention", {"gallery": "nowhere", "retention_days": 0}, KB)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "gallery_not_found")
    listed = post(server, "/gallery/list", {}).json()["galleries"]
    assert [g["retention_days"] for g in listed if g["gallery"] == "kept-a"] == [30.0]
    assert "kept-a" not in [
        g["gallery"] for g in post(server, "/gallery/list", {}, KB).json()["galleries"]
    ]
