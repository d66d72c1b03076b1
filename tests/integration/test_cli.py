"""The ``facereid`` CLI as a subprocess against a real dlib server: analyze, compare, a video
with ``--wait``, a gallery round trip (once the server has galleries) with the privacy
commands, and bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.harness import REPO_ROOT, Server
from tests.video_builder import t1_scenario, write_video

pytestmark = pytest.mark.slow


def facereid(server: Server, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    # ``python -m facereid.cli`` is the ``facereid`` console script, run from this checkout
    command = [sys.executable, "-m", "facereid.cli", "--url", server.url, *args]
    return subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_analyze_lists_the_six_faces_of_t1(dlib_server: Server, t1_path: Path) -> None:
    table = facereid(dlib_server, "analyze", str(t1_path))
    assert table.returncode == 0, table.stderr
    boxes = re.findall(r"\d+, \d+, \d+, \d+", table.stdout)
    assert len(boxes) == 6, table.stdout
    assert "emotion model: facereid-fer:" in table.stdout  # no CLIP on this server: fer's
    done = facereid(dlib_server, "--json", "analyze", "--no-emotions", str(t1_path))
    assert done.returncode == 0, done.stderr
    [answer] = json.loads(done.stdout)
    assert answer["num_faces"] == 6 and len(answer["faces"]) == 6
    assert answer["embedding_model"].startswith("dlib/")


def test_compare_same_and_different_people(dlib_server: Server, shared_faces: Path) -> None:
    obama = shared_faces / "identities" / "obama"
    same = facereid(dlib_server, "compare", str(obama / "obama1.jpg"), str(obama / "obama2.jpg"))
    assert same.returncode == 0, same.stderr
    assert same.stdout.startswith("same person: similarity")
    biden = sorted((shared_faces / "identities" / "biden").glob("*.jpg"))[0]
    other = facereid(dlib_server, "--json", "compare", str(obama / "obama1.jpg"), str(biden))
    assert other.returncode == 0, other.stderr
    verdict = json.loads(other.stdout)
    assert verdict["same_person"] is False
    assert verdict["similarity"] < verdict["threshold"] == 0.91


def test_video_wait_prints_the_people(dlib_server: Server, t1_path: Path, tmp_path: Path) -> None:
    clip = write_video(
        tmp_path / "scenario.mp4", t1_scenario(t1_path, t1_path.with_name("Tom_Hanks_54745.png"))
    )
    done = facereid(dlib_server, "--json", "video", "--wait", "--no-emotions", str(clip))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "completed"
    assert 5 <= result["num_identities"] <= 8  # 7 people; dlib may miss or split one
    shown = facereid(dlib_server, "video", "--wait", str(clip))
    assert shown.returncode == 0, shown.stderr
    assert "person 1" in shown.stdout
    # the progress bar, on stderr, ends full: "completed ━━━ 14/14 frames"
    assert re.search(r"completed .* (\d+)/\1 frames", shown.stderr), shown.stderr


def test_a_bad_file_exits_non_zero_with_our_error(dlib_server: Server, tmp_path: Path) -> None:
    bogus = tmp_path / "notes.jpg"
    bogus.write_text("not a photo")
    api_error = httpx.post(
        f"{dlib_server.url}/analyze", json={"image_data": "bm90IGEgcGhvdG8="}, timeout=30
    ).json()["error"]
    done = facereid(dlib_server, "analyze", str(bogus))
    assert done.returncode == 1
    assert f"error: {api_error['code']}: {api_error['message']}" in done.stderr
    video = facereid(dlib_server, "video", "--wait", str(bogus))
    assert video.returncode == 1
    assert "error: unsupported_video:" in video.stderr


def test_an_unreachable_server_exits_3(tmp_path: Path, t1_path: Path) -> None:
    command = [sys.executable, "-m", "facereid.cli", "--url", "http://127.0.0.1:9", "analyze"]
    done = subprocess.run(
        [*command, str(t1_path)], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 3
    assert "error: unreachable:" in done.stderr


def test_gallery_round_trip(dlib_server: Server, shared_faces: Path) -> None:
    probe = httpx.post(f"{dlib_server.url}/gallery/list", json={}, timeout=30)
    if probe.status_code == 404 and probe.json()["error"]["code"] == "not_found":
        pytest.skip("this server has no /gallery routes yet (issue 13)")
    people = shared_faces / "identities"
    obama = sorted((people / "obama").glob("*.jpg"))
    biden = sorted((people / "biden").glob("*.jpg"))
    for subject, photo in (("obama", obama[0]), ("biden", biden[0])):
        done = facereid(
            dlib_server, "gallery", "enroll", "cli-test", str(photo), "--subject", subject
        )
        assert done.returncode == 0, done.stderr
    found = facereid(dlib_server, "--json", "gallery", "search", "cli-test", str(obama[1]))
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["matches"][0]["subject"] == "obama"
    listed = facereid(dlib_server, "--json", "gallery", "subjects", "cli-test", "--all")
    assert {s["subject"] for s in json.loads(listed.stdout)["subjects"]} == {"obama", "biden"}
    gone = facereid(dlib_server, "--json", "gallery", "delete", "cli-test", "--subject", "biden")
    assert gone.returncode == 0 and json.loads(gone.stdout)["deleted"] == 1
    clusters = facereid(dlib_server, "--json", "gallery", "cluster", "cli-test", "--min-faces", "1")
    assert clusters.returncode == 0, clusters.stderr
    assert "clusters" in json.loads(clusters.stdout)
    missing = facereid(dlib_server, "gallery", "subjects", "no-such-gallery")
    assert missing.returncode == 7
    assert "error: gallery_not_found:" in missing.stderr
    # the privacy commands (issue 22): export, retention, the audit log
    exported = facereid(dlib_server, "gallery", "export", "cli-test", "obama", "--embeddings")
    assert exported.returncode == 0, exported.stderr
    faces = json.loads(exported.stdout)["faces"]
    assert len(faces) == 1 and faces[0]["subject"] == "obama" and len(faces[0]["embedding"]) == 128
    kept = facereid(dlib_server, "--json", "gallery", "retention", "cli-test", "30")
    assert kept.returncode == 0 and json.loads(kept.stdout)["effective_days"] == 30
    log = facereid(dlib_server, "--json", "audit", "--all")
    routes = [e["route"] for e in json.loads(log.stdout)["entries"] if e["gallery"] == "cli-test"]
    assert routes[-3:] == ["cluster", "export", "retention"], routes
    assert facereid(dlib_server, "gallery", "drop", "cli-test", "--yes").returncode == 0
