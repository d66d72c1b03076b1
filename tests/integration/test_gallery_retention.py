"""``POST /gallery/retention`` against the session's dlib server (one tenant, no keys; its
retention sweep runs every second, tests/conftest.py): hostile values refused with 422
``invalid_request`` and no traceback in the log, an unknown gallery 404, the effective value in
``/gallery/list``, and a face erased by the real sweeper once its gallery's retention passes,
with the change and the sweep in the audit log, and the video results that named the expired
face redacted. Another tenant's gallery: tests/integration/test_privacy.py
(the server with two API keys)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import Server
from tests.integration.payloads import b64_file
from tests.integration.test_video_api import submit, wait_finished

pytestmark = pytest.mark.slow

MODEL = "test/retention/4"
DEFAULT_DAYS = 1095.0  # GALLERY_RETENTION_DAYS's default (facereid/config.py)


def post(server: Server, path: str, body: Any) -> httpx.Response:
    with server.client(timeout=60) as client:
        return client.post(path, json=body)


def post_raw(server: Server, path: str, body: bytes) -> httpx.Response:
    """For JSON that ``json=`` will not write: NaN, Infinity, a 400-digit number."""
    with server.client(timeout=60) as client:
        return client.post(path, content=body, headers={"Content-Type": "application/json"})


def enroll(server: Server, gallery: str) -> str:
    body = {"gallery": gallery, "embedding": [1.0, 0.0, 0.0, 0.0], "embedding_model": MODEL}
    answer = post(server, "/gallery/enroll", body)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["face_id"])


def listed(server: Server, gallery: str) -> dict[str, Any]:
    galleries = post(server, "/gallery/list", {}).json()["galleries"]
    (entry,) = [g for g in galleries if g["gallery"] == gallery]
    return dict(entry)


HOSTILE = [
    b'"30"',
    b"true",
    b"false",
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"1e999",
    b"1" + b"0" * 400,
    b"-1",
    b"-0.0001",
    b"36500.5",
    b"[30]",
    b'{"days": 30}',
]


@pytest.mark.parametrize("value", HOSTILE, ids=[v.decode()[:12] for v in HOSTILE])
def test_hostile_values_are_refused_without_a_traceback(dlib_server: Server, value: bytes) -> None:
    gallery = "retention-hostile"
    enroll(dlib_server, gallery)
    start = len(dlib_server.log())
    body = b'{"gallery": "%s", "retention_days": %s}' % (gallery.encode(), value)
    answer = post_raw(dlib_server, "/gallery/retention", body)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_request"
    assert "retention_days must be a number of days from 0 to 36500" in answer.text
    # the gallery keeps the default: nothing was written
    assert listed(dlib_server, gallery)["retention_days"] == DEFAULT_DAYS
    time.sleep(0.2)  # the server's log line is written after the answer
    log = dlib_server.log()[start:]
    assert "Traceback" not in log, log
    assert "request refused on /gallery/retention: 422 invalid_request" in log, log


@pytest.mark.parametrize(
    "body",
    [
        {"gallery": "retention-hostile"},  # a missing value must not reset it
        {"gallery": "retention-hostile", "retention_days": 1, "retention": 1},  # a typo
        {"gallery": ["retention-hostile"], "retention_days": 1},
        {"retention_days": 1},
    ],
)
def test_missing_or_extra_fields_are_refused(dlib_server: Server, body: dict[str, Any]) -> None:
    enroll(dlib_server, "retention-hostile")
    answer = post(dlib_server, "/gallery/retention", body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "invalid_request"


def test_unknown_gallery_is_not_found(dlib_server: Server) -> None:
    answer = post(dlib_server, "/gallery/retention", {"gallery": "no-such", "retention_days": 1})
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"]["code"] == "gallery_not_found"


def test_set_list_and_clear(dlib_server: Server) -> None:
    gallery = "retention-listed"
    enroll(dlib_server, gallery)
    for sent, own, effective in [(0, 0.0, 0.0), (7.5, 7.5, 7.5), (None, None, DEFAULT_DAYS)]:
        answer = post(
            dlib_server, "/gallery/retention", {"gallery": gallery, "retention_days": sent}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "gallery": gallery,
            "retention_days": own,
            "effective_days": effective,
        }
        entry = listed(dlib_server, gallery)
        assert entry["retention_days"] == effective and entry["faces"] == 1
        assert entry["embedding_model"] == MODEL and entry["dim"] == 4  # metadata kept


def test_the_sweeper_erases_a_face_once_its_gallerys_retention_passes(
    dlib_server: Server,
) -> None:
    gallery = "retention-expiry"
    since = time.time() - 1
    kept = "retention-kept"
    enroll(dlib_server, kept)  # the default retention: untouched by the sweep
    face_id = enroll(dlib_server, gallery)
    faces = post(dlib_server, "/gallery/faces", {"gallery": gallery}).json()["faces"]
    assert [f["face_id"] for f in faces] == [face_id]
    answer = post(dlib_server, "/gallery/retention", {"gallery": gallery, "retention_days": 2e-5})
    assert answer.status_code == 200, answer.text
    assert answer.json()["effective_days"] == 2e-5  # about 1.7 s
    deadline = time.monotonic() + 20  # a bound, not a measurement: the sweep runs every second
    while faces and time.monotonic() < deadline:
        time.sleep(0.5)
        faces = post(dlib_server, "/gallery/faces", {"gallery": gallery}).json()["faces"]
    assert faces == [], f"the face was not erased within 20 s: {faces}"
    search = {"gallery": gallery, "embedding": [1.0, 0.0, 0.0, 0.0], "embedding_model": MODEL}
    assert post(dlib_server, "/gallery/search", search).json()["matches"] == []
    assert listed(dlib_server, kept)["faces"] == 1
    entries, cursor = [], 0
    while True:
        page = post(dlib_server, "/audit/query", {"since": since, "cursor": cursor}).json()
        entries += page["entries"]
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    routes = [e["route"] for e in entries if e["gallery"] == gallery]
    assert routes[:3] == ["enroll", "faces", "retention"], routes
    expired = [e for e in entries if e["route"] == "retention_expire" and e["gallery"] == gallery]
    assert [e["counts"] for e in expired] == [{"deleted": 1}]  # the sweep is audited


def test_an_expired_face_leaves_the_video_results_that_named_it(
    dlib_server: Server, scenario_mp4: bytes, t1_path: Path
) -> None:
    """The sweep erases in the store service; the API service then redacts the video results
    that named the expired faces, as after a delete (facereid/video/redaction.py)."""
    gallery = "retention-video"
    with dlib_server.client(timeout=300) as client:
        enrolled = client.post(
            "/gallery/enroll",
            json={"gallery": gallery, "subject": "Ada", "image_data": b64_file(t1_path)},
        )
        assert enrolled.status_code == 200, enrolled.text
        job_id = submit(client, scenario_mp4, gallery=gallery, sample_fps=2).json()["job_id"]
        assert wait_finished(client, job_id)[-1]["status"] == "completed"
        named = client.post("/video/result", json={"job_id": job_id}).json()["identities"]
        assert any(i["subject"] == "Ada" for i in named)  # the test can fail
        set_short = {"gallery": gallery, "retention_days": 2e-5}
        assert client.post("/gallery/retention", json=set_short).status_code == 200
        deadline = time.monotonic() + 20  # a bound: the sweep runs every second
        while time.monotonic() < deadline:
            identities = client.post("/video/result", json={"job_id": job_id}).json()["identities"]
            if not any(i["subject"] == "Ada" for i in identities):
                break
            time.sleep(0.5)
    assert not any(i["subject"] == "Ada" for i in identities), identities
    face_id = enrolled.json()["face_id"]
    assert face_id not in json.dumps(identities)
    assert any(i.get("redacted") for i in identities)
