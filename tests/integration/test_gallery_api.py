"""Galleries end to end (issue 13): real photos through the dlib engine, a real embedded Chroma
store on disk, restarts, kill -9, two tenants, and a Chroma server reached by URI."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
import pytest

from facereid.gallery.chroma import collection_name, connect
from tests.harness import Server, free_port, start_server
from tests.integration.payloads import b64_file, b64_flat

pytestmark = pytest.mark.slow

KA = {"Authorization": "Bearer ka"}
KB = {"Authorization": "Bearer kb"}
MODEL = "test/random/64"


def photos(shared_faces: Path) -> dict[str, list[Path]]:
    folder = shared_faces / "identities"
    return {p.name: sorted(p.iterdir()) for p in sorted(folder.iterdir()) if p.is_dir()}


def unit_rows(n: int, dim: int = 64, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, dim))
    return np.asarray(rows / np.linalg.norm(rows, axis=1, keepdims=True))


class Gallery:
    """One server over one DATA_DIR; ``restart`` (TERM) and ``kill9`` keep the folder."""

    def __init__(self, root: Path, env: dict[str, str] | None = None) -> None:
        self.root = root
        self.env = {
            "FACE_ENGINE": "auto",  # empty store: dlib
            "DATA_DIR": str(root / "data"),
            "API_KEYS": "ka,kb",
            **(env or {}),
        }
        (root / "home").mkdir(parents=True, exist_ok=True)
        self.starts = 0
        self.server = self._start()

    def _start(self) -> Server:
        self.starts += 1
        return start_server(
            "service:FaceReID", self.root / "home", self.root / f"run{self.starts}.log", self.env
        )

    def post(self, path: str, body: dict[str, Any], headers: dict[str, str] = KA) -> httpx.Response:
        with self.server.client(timeout=120) as client:
            return client.post(path, json=body, headers=headers)

    def ok(self, path: str, body: dict[str, Any], headers: dict[str, str] = KA) -> Any:
        response = self.post(path, body, headers)
        assert response.status_code == 200, response.text
        return response.json()

    def restart(self) -> None:
        self.server.stop()
        self.server = self._start()

    def kill9(self) -> None:
        """SIGKILL the server and every worker at once (BentoML workers run in their own
        sessions, so the process group alone would leave the store worker alive)."""
        root = psutil.Process(self.server.process.pid)
        everyone = [root, *root.children(recursive=True)]
        for process in everyone:
            process.kill()
        psutil.wait_procs(everyone, timeout=30)
        self.server = self._start()


@pytest.fixture(scope="module")
def gallery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gallery]:
    g = Gallery(tmp_path_factory.mktemp("gallery"))
    yield g
    g.server.stop()


def error_code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def search_all(gallery: Gallery, probes: dict[str, list[Path]]) -> dict[str, list[Any]]:
    answers = {}
    for name, paths in probes.items():
        for path in paths:
            body = {"gallery": "people", "image_data": b64_file(path), "top_k": 3}
            found = gallery.ok("/gallery/search", body)
            answers[f"{name}/{path.name}"] = [
                (m["subject"], m["face_id"]) for m in found["matches"]
            ]
    return answers


def test_real_photos_reidentified_and_survive_restart(gallery: Gallery, shared_faces: Path) -> None:
    people = photos(shared_faces)
    assert len(people) == 6
    for name, paths in people.items():
        body = {
            "gallery": "people",
            "subject": name,
            "image_data": b64_file(paths[0]),
            "metadata": {"file": paths[0].name},
        }
        enrolled = gallery.ok("/gallery/enroll", body)
        assert enrolled["subject"] == name and enrolled["embedding_model"].startswith("dlib/")
        assert enrolled["num_faces"] >= 1 and len(enrolled["bbox"]) == 4
    probes = {name: paths[1:] for name, paths in people.items() if len(paths) > 1}
    assert sum(len(p) for p in probes.values()) >= 10
    before = search_all(gallery, probes)
    for key, matches in before.items():
        assert matches and matches[0][0] == key.split("/")[0], (key, matches)
    one = gallery.ok(
        "/gallery/search",
        {"gallery": "people", "image_data": b64_file(probes["obama"][0]), "threshold": -1},
    )
    assert one["threshold"] == -1 and len(one["matches"]) == 5  # top_k default
    assert [m["similarity"] for m in one["matches"]] == sorted(
        (m["similarity"] for m in one["matches"]), reverse=True
    )
    assert one["matches"][0]["metadata"]["file"] == people["obama"][0].name
    listed = gallery.ok("/gallery/list", {})["galleries"]
    assert [(g["gallery"], g["faces"]) for g in listed] == [("people", 6)]

    gallery.restart()
    assert search_all(gallery, probes) == before


def test_kill9_keeps_every_acknowledged_enrolment(gallery: Gallery) -> None:
    rows = unit_rows(50, seed=3)
    ids = []
    for i, row in enumerate(rows):
        body = {
            "gallery": "durable",
            "subject": f"s{i}",
            "embedding": row.tolist(),
            "embedding_model": MODEL,
        }
        ids.append(gallery.ok("/gallery/enroll", body)["face_id"])
    gallery.kill9()  # no shutdown, no flush: only what was acknowledged counts
    listed = gallery.ok("/gallery/faces", {"gallery": "durable", "limit": 1000})
    assert sorted(f["face_id"] for f in listed["faces"]) == sorted(ids)
    found = gallery.ok(
        "/gallery/search",
        {"gallery": "durable", "embedding": rows[17].tolist(), "embedding_model": MODEL},
    )
    assert found["matches"][0]["face_id"] == ids[17]


def test_tenants_do_not_see_each_other(gallery: Gallery) -> None:
    row = unit_rows(1, seed=4)[0].tolist()
    gallery.ok(
        "/gallery/enroll",
        {"gallery": "private", "subject": "a", "embedding": row, "embedding_model": MODEL},
    )
    search = {"gallery": "private", "embedding": row, "embedding_model": MODEL}
    assert error_code(gallery.post("/gallery/search", search, KB)) == (404, "gallery_not_found")
    assert error_code(gallery.post("/gallery/drop", {"gallery": "private"}, KB)) == (
        404,
        "gallery_not_found",
    )
    assert "private" not in [g["gallery"] for g in gallery.ok("/gallery/list", {}, KB)["galleries"]]
    # kb's own gallery of the same name is a different one
    gallery.ok(
        "/gallery/enroll",
        {"gallery": "private", "subject": "b", "embedding": row, "embedding_model": MODEL},
        KB,
    )
    assert gallery.ok("/gallery/search", search, KB)["matches"][0]["subject"] == "b"
    assert gallery.ok("/gallery/search", search)["matches"][0]["subject"] == "a"
    assert gallery.post("/gallery/list", {}, {}).status_code == 401


def test_embedding_model_mismatch_is_refused(gallery: Gallery, shared_faces: Path) -> None:
    row = unit_rows(1, seed=5)[0].tolist()
    gallery.ok("/gallery/enroll", {"gallery": "m", "embedding": row, "embedding_model": MODEL})
    other = {"gallery": "m", "embedding": row, "embedding_model": "other/model/64"}
    assert error_code(gallery.post("/gallery/enroll", other)) == (422, "embedding_model_mismatch")
    assert error_code(gallery.post("/gallery/search", other)) == (422, "embedding_model_mismatch")
    photo = next(iter(photos(shared_faces).values()))[0]
    with_image = {"gallery": "m", "image_data": b64_file(photo)}
    assert error_code(gallery.post("/gallery/search", with_image)) == (
        422,
        "embedding_model_mismatch",
    )


def test_delete_rename_assign_drop_and_pages(gallery: Gallery) -> None:
    rows = unit_rows(6, seed=6)
    subjects = ["ann", "ann", "bob", "cat", None, None]
    ids = gallery.ok(
        "/gallery/enroll_batch",
        {
            "gallery": "crud",
            "embedding_model": MODEL,
            "embeddings": rows.tolist(),
            "subjects": subjects,
        },
    )["face_ids"]
    pages, cursor = [], None
    while True:
        page = gallery.ok("/gallery/subjects", {"gallery": "crud", "limit": 2, "cursor": cursor})
        pages.append([(s["subject"], s["faces"]) for s in page["subjects"]])
        if (cursor := page["next_cursor"]) is None:
            break
    assert pages == [[("ann", 2), ("bob", 1)], [("cat", 1)]]
    merged = gallery.ok(
        "/gallery/rename", {"gallery": "crud", "subject": "ann", "new_subject": "bob"}
    )
    assert merged == {"renamed": 2, "merged": True}
    bobs = gallery.ok("/gallery/faces", {"gallery": "crud", "subject": "bob"})["faces"]
    assert sorted(f["face_id"] for f in bobs) == sorted(ids[:3])
    assert gallery.ok(
        "/gallery/assign", {"gallery": "crud", "face_ids": ids[4:], "subject": "dan"}
    ) == {"assigned": 2}
    assert gallery.ok("/gallery/delete", {"gallery": "crud", "face_id": ids[3]}) == {"deleted": 1}
    assert gallery.ok("/gallery/delete", {"gallery": "crud", "subject": "bob"}) == {"deleted": 3}
    left = gallery.ok("/gallery/faces", {"gallery": "crud"})["faces"]
    assert sorted((f["face_id"], f["subject"]) for f in left) == sorted(
        [(ids[4], "dan"), (ids[5], "dan")]
    )
    assert gallery.ok("/gallery/drop", {"gallery": "crud"})["deleted"] == 2
    assert error_code(gallery.post("/gallery/faces", {"gallery": "crud"})) == (
        404,
        "gallery_not_found",
    )


def test_cluster_groups_unnamed_faces_never_two_of_one_image(gallery: Gallery) -> None:
    rng = np.random.default_rng(7)
    centres = unit_rows(2, seed=8)
    rows = np.concatenate([c + rng.normal(scale=0.02, size=(4, 64)) for c in centres])
    image_ids = ["photo-1", "photo-1", "p2", "p3", "p4", "p5", "p6", "p7"]
    ids = gallery.ok(
        "/gallery/enroll_batch",
        {
            "gallery": "unknown",
            "embedding_model": MODEL,
            "embeddings": rows.tolist(),
            "image_ids": image_ids,
        },
    )["face_ids"]
    result = gallery.ok(
        "/gallery/cluster", {"gallery": "unknown", "min_faces": 3, "threshold": 0.9}
    )
    groups = [set(c["face_ids"]) for c in result["clusters"]]
    assert set(ids[4:]) in groups
    first = next(g for g in groups if set(ids[2:4]) <= g)
    assert len(first) == 3 and len(first & set(ids[:2])) == 1
    named = gallery.ok(
        "/gallery/assign", {"gallery": "unknown", "face_ids": sorted(first), "subject": "x"}
    )
    assert named == {"assigned": 3}
    again = gallery.ok("/gallery/cluster", {"gallery": "unknown", "min_faces": 3, "threshold": 0.9})
    assert [set(c["face_ids"]) for c in again["clusters"]] == [set(ids[4:])]


def test_bad_inputs_get_their_codes(gallery: Gallery) -> None:
    row = unit_rows(1, seed=9)[0].tolist()
    gallery.ok("/gallery/enroll", {"gallery": "bad", "embedding": row, "embedding_model": MODEL})
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        (
            "/gallery/enroll",
            {"gallery": "bad", "image_data": b64_flat(320, 240)},
            422,
            "no_face_detected",
        ),
        (
            "/gallery/enroll",
            {
                "gallery": "bad",
                "embedding": row,
                "embedding_model": MODEL,
                "metadata": {"k": "x" * 5000},
            },
            413,
            "metadata_too_large",
        ),
        (
            "/gallery/enroll",
            {
                "gallery": "bad",
                "embedding": row,
                "embedding_model": MODEL,
                "metadata": {"k": {"a": 1}},
            },
            422,
            "invalid_gallery_request",
        ),
        (
            "/gallery/search",
            {"gallery": "nope", "embedding": row, "embedding_model": MODEL},
            404,
            "gallery_not_found",
        ),
        ("/gallery/faces", {"gallery": "bad", "cursor": "not-a-cursor"}, 400, "invalid_cursor"),
        ("/gallery/subjects", {"gallery": "bad", "limit": 0}, 422, "invalid_gallery_request"),
        (
            "/gallery/search",
            {"gallery": "bad", "embedding": row, "embedding_model": MODEL, "top_k": 1000},
            422,
            "invalid_gallery_request",
        ),
        (
            "/gallery/enroll",
            {"gallery": "../etc", "embedding": row, "embedding_model": MODEL},
            422,
            "invalid_gallery_request",
        ),
        ("/gallery/enroll", {"gallery": "bad", "embedding": row}, 422, "invalid_gallery_request"),
        (
            "/gallery/enroll",
            {"gallery": "bad", "embedding": [0.0] * 64, "embedding_model": MODEL},
            422,
            "invalid_embedding",
        ),
        ("/gallery/enroll", {"gallery": "bad", "image_data": "%%%"}, 400, "invalid_base64"),
        ("/gallery/delete", {"gallery": "bad"}, 422, "invalid_gallery_request"),
        (
            "/gallery/enroll_batch",
            {"gallery": "bad", "embedding_model": MODEL, "embeddings": [row] * 1001},
            422,
            "invalid_gallery_request",
        ),
    ]
    for path, body, status, code in cases:
        response = gallery.post(path, body)
        assert error_code(response) == (status, code), (path, body.keys(), response.text)
    gallery.ok(
        "/gallery/enroll_batch",
        {
            "gallery": "paged",
            "embedding_model": MODEL,
            "embeddings": [row, row],
            "subjects": ["a", "b"],
        },
    )
    other_cursor = gallery.ok("/gallery/subjects", {"gallery": "paged", "limit": 1})["next_cursor"]
    assert other_cursor is not None  # a real cursor, but for another gallery
    assert error_code(
        gallery.post("/gallery/subjects", {"gallery": "bad", "cursor": other_cursor})
    ) == (
        400,
        "invalid_cursor",
    )
    log = gallery.server.log()
    assert "Traceback" not in log  # the AllocTimestamp probe's is filtered (runners/gallery.py)
    assert "status=500" not in log


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    """Chroma's own server (``chroma run``, shipped in the chromadb package) on 127.0.0.1."""
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    process = subprocess.Popen(
        [
            str(chroma),
            "run",
            "--path",
            str(tmp_path / "chroma"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=(tmp_path / "chroma.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            connect(uri).heartbeat()
            break
        except Exception:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail((tmp_path / "chroma.log").read_text())
            time.sleep(0.5)
    yield uri
    process.terminate()
    process.wait(timeout=30)


def test_gallery_on_a_chroma_server_by_uri(chroma_server: str, tmp_path: Path) -> None:
    g = Gallery(tmp_path / "remote", {"GALLERY_URI": chroma_server})
    try:
        rows = unit_rows(3, seed=10)
        ids = g.ok(
            "/gallery/enroll_batch",
            {
                "gallery": "r",
                "embedding_model": MODEL,
                "embeddings": rows.tolist(),
                "subjects": ["a", "b", "c"],
            },
        )["face_ids"]
        found = g.ok(
            "/gallery/search",
            {"gallery": "r", "embedding": rows[1].tolist(), "embedding_model": MODEL},
        )
        assert found["matches"][0]["face_id"] == ids[1]
    finally:
        g.server.stop()
    # the rows live in the server's folder, not in a local DATA_DIR folder
    assert not (tmp_path / "remote" / "data" / "gallery.chroma").exists()
    collections = [c for c in connect(chroma_server).list_collections() if c.metadata]
    (remote,) = [c for c in collections if c.metadata and c.metadata["gallery"] == "r"]
    assert remote.name == collection_name(str(remote.metadata["tenant"]), "r")
    stored = remote.get(ids=ids)
    assert sorted(str(m["subject"]) for m in stored["metadatas"] or []) == ["a", "b", "c"]
