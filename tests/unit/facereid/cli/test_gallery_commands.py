"""``facereid gallery`` against a scripted API in issue 13's shapes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from facereid.cli.main import cli
from tests.unit.facereid.cli.fake_api import FakeApi


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_enroll_sends_gallery_subject_and_image(api: FakeApi, tmp_path: Path) -> None:
    photo = tmp_path / "o.jpg"
    photo.write_bytes(b"img")
    api.on("/gallery/enroll", (200, {"face_id": "f1", "gallery": "g", "subject": "obama"}))
    code, out, _ = run("gallery", "enroll", "g", str(photo), "--subject", "obama")
    assert code == 0 and "f1" in out
    assert api.body(0) == {"gallery": "g", "subject": "obama", "image_data": "aW1n"}


def test_enroll_without_subject_sends_null(api: FakeApi, tmp_path: Path) -> None:
    photo = tmp_path / "o.jpg"
    photo.write_bytes(b"img")
    api.on("/gallery/enroll", (200, {"face_id": "f2", "gallery": "g", "subject": None}))
    assert run("gallery", "enroll", "g", str(photo))[0] == 0
    assert api.body(0)["subject"] is None


def test_search_prints_matches_best_first(api: FakeApi, tmp_path: Path) -> None:
    photo = tmp_path / "q.jpg"
    photo.write_bytes(b"img")
    matches = [
        {"face_id": "f1", "subject": "obama", "similarity": 0.97, "metadata": {}},
        {"face_id": "f9", "subject": "biden", "similarity": 0.92, "metadata": {}},
    ]
    answer = {"matches": matches, "embedding_model": "dlib/x/128", "threshold": 0.91}
    api.on("/gallery/search", (200, answer))
    code, out, _ = run("gallery", "search", "g", str(photo), "--top-k", "2")
    assert code == 0
    assert out.index("obama") < out.index("biden")
    assert api.body(0)["top_k"] == 2 and "threshold" not in api.body(0)


def test_subjects_all_follows_the_cursor(api: FakeApi) -> None:
    api.on(
        "/gallery/subjects",
        (200, {"subjects": [{"subject": "a", "faces": 1}], "next_cursor": "c2"}),
        (200, {"subjects": [{"subject": "b", "faces": 2}], "next_cursor": None}),
    )
    code, out, _ = run("--json", "gallery", "subjects", "g", "--all", "--limit", "1")
    assert code == 0
    assert [s["subject"] for s in json.loads(out)["subjects"]] == ["a", "b"]
    assert api.body(1)["cursor"] == "c2"


def test_delete_needs_exactly_one_target(api: FakeApi) -> None:
    code, _, err = run("gallery", "delete", "g")
    assert code == 2 and "exactly one" in err
    assert not api.requests


def test_cluster_then_assign(api: FakeApi) -> None:
    clusters = [{"cluster_id": 0, "face_ids": ["f1", "f2", "f3"], "size": 3}]
    api.on("/gallery/cluster", (200, {"clusters": clusters}))
    api.on("/gallery/assign", (200, {"assigned": 3}))
    code, out, _ = run("gallery", "cluster", "g", "--min-faces", "2")
    assert code == 0 and "f1 f2 f3" in out
    assert run("gallery", "assign", "g", "kit", "f1", "f2", "f3")[0] == 0
    assert api.body(1) == {"gallery": "g", "subject": "kit", "face_ids": ["f1", "f2", "f3"]}


def test_unknown_gallery_exits_7_with_our_message(api: FakeApi) -> None:
    missing = {"error": {"code": "gallery_not_found", "message": "no gallery named g"}}
    api.on("/gallery/subjects", (404, missing))
    code, _, err = run("gallery", "subjects", "g")
    assert code == 7
    assert "error: gallery_not_found: no gallery named g" in err


def test_list_shows_each_gallery(api: FakeApi) -> None:
    galleries = [{"gallery": "staff", "faces": 12, "embedding_model": "dlib/x/128"}]
    api.on("/gallery/list", (200, {"galleries": galleries}))
    code, out, _ = run("gallery", "list")
    assert code == 0
    assert ["staff", "12", "dlib/x/128"] == [w for w in out.splitlines()[-1].split() if w != "│"]


def test_drop_asks_first_and_a_no_sends_nothing(api: FakeApi) -> None:
    result = CliRunner().invoke(cli, ["gallery", "drop", "staff"], input="n\n")
    assert result.exit_code == 1  # click's Abort
    assert not api.requests


def test_a_server_without_galleries_exits_7(api: FakeApi) -> None:
    code, _, err = run("gallery", "list")  # FakeApi answers unknown routes 404 not_found
    assert code == 7
    assert "error: not_found: nope" in err
