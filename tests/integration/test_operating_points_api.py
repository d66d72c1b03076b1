"""Calibrated operating points against the session's real dlib server (issue 24):
``python -m facereid calibrate`` on the shared photos reproduces the shipped points (fixed
seed), and /compare, /find_matches and /gallery/search answer ``match`` under a named point,
keeping the raw similarity; unknown points are a 422 ``unknown_operating_point``."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from facereid.matching.operating_points import SHIPPED
from tests.harness import REPO_ROOT, Server

pytestmark = pytest.mark.slow

SHIPPED_DOC = json.loads(SHIPPED.read_text())
(MODEL,) = SHIPPED_DOC["models"]
POINTS = SHIPPED_DOC["models"][MODEL]["operating_points"]
LOOSE, STRICT = POINTS["fmr_1e-2"]["threshold"], POINTS["fmr_1e-3"]["threshold"]
BETWEEN = (LOOSE + STRICT) / 2  # a match at fmr_1e-2, not at fmr_1e-3
DIM = 128


def at_cosine(c: float) -> list[float]:
    """A unit vector whose cosine with ``[1, 0, ...]`` is ``c``."""
    return [c, math.sqrt(1 - c * c)] + [0.0] * (DIM - 2)


TARGET = at_cosine(1.0)


def post(server: Server, path: str, body: dict[str, Any]) -> Any:
    with server.client() as client:
        return client.post(path, json=body)


def test_calibrate_on_the_shared_photos_reproduces_the_shipped_points(
    dlib_server: Server, shared_faces: Path, tmp_path: Path
) -> None:
    out, roc = tmp_path / "points.json", tmp_path / "roc.png"
    command = [sys.executable, "-m", "facereid", "--url", dlib_server.url, "calibrate"]
    command += [str(shared_faces / "identities"), "--out", str(out), "--roc", str(roc)]
    done = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text()) == SHIPPED_DOC  # same photos, engine and seed
    assert roc.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "146 different-person pairs" in done.stdout
    assert "cannot be claimed" in " ".join(done.stdout.split())


def test_compare_answers_match_under_the_named_point(dlib_server: Server) -> None:
    body = {"face1_embedding": TARGET, "face2_embedding": at_cosine(BETWEEN), "face1_model": MODEL}
    plain = post(dlib_server, "/compare", body).json()
    assert set(plain) == {"similarity"} or plain.get("match") is None
    loose = post(dlib_server, "/compare", {**body, "operating_point": "fmr_1e-2"}).json()
    strict = post(dlib_server, "/compare", {**body, "operating_point": "fmr_1e-3"}).json()
    assert loose["similarity"] == strict["similarity"] == plain["similarity"]
    assert (loose["match"], loose["threshold"]) == (True, LOOSE)
    assert (strict["match"], strict["threshold"], strict["operating_point"]) == (
        False,
        STRICT,
        "fmr_1e-3",
    )


def test_find_matches_uses_the_point_instead_of_threshold(dlib_server: Server) -> None:
    rows = [at_cosine(0.85), at_cosine(BETWEEN), at_cosine(0.95)]
    body = {"target_embedding": TARGET, "embeddings": rows, "target_model": MODEL}
    body["threshold"] = 0.0  # replaced by the point's threshold
    loose = post(dlib_server, "/find_matches", {**body, "operating_point": "fmr_1e-2"}).json()
    strict = post(dlib_server, "/find_matches", {**body, "operating_point": "fmr_1e-3"}).json()
    assert [m["index"] for m in loose] == [2, 1]
    assert [m["index"] for m in strict] == [2]


def test_gallery_search_under_a_point(dlib_server: Server) -> None:
    enrol = {"gallery": "operating_points", "embedding_model": MODEL, "subjects": ["a", "b"]}
    enrol["embeddings"] = [at_cosine(BETWEEN), at_cosine(0.95)]
    assert post(dlib_server, "/gallery/enroll_batch", enrol).status_code == 200
    query = {"gallery": "operating_points", "embedding": TARGET, "embedding_model": MODEL}
    strict = post(dlib_server, "/gallery/search", {**query, "operating_point": "fmr_1e-3"})
    assert strict.status_code == 200, strict.text
    found = strict.json()
    assert [m["subject"] for m in found["matches"]] == ["b"]
    assert (found["threshold"], found["operating_point"]) == (STRICT, "fmr_1e-3")
    loose = post(dlib_server, "/gallery/search", {**query, "operating_point": "fmr_1e-2"}).json()
    assert [m["subject"] for m in loose["matches"]] == ["b", "a"]
    unknown = post(dlib_server, "/gallery/search", {**query, "operating_point": "fmr_0"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "unknown_operating_point"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"operating_point": "fmr_1e-9"}, "unknown_operating_point"),
        ({"operating_point": "x" * 100_000}, "unknown_operating_point"),
        ({"operating_point": "fmr_1e-3\n\x1b[31m"}, "unknown_operating_point"),
        ({"operating_point": "fmr_1e-3", "face1_model": None}, "unknown_operating_point"),
        (
            {"operating_point": "fmr_1e-3", "face1_model": "other/model/128"},
            "unknown_operating_point",
        ),
        ({"operating_point": 5}, None),
        ({"operating_point": ["fmr_1e-3"]}, None),
    ],
)
def test_hostile_operating_points_are_refused(
    dlib_server: Server, change: dict[str, Any], code: str | None
) -> None:
    body = {"face1_embedding": TARGET, "face2_embedding": TARGET, "face1_model": MODEL, **change}
    response = post(dlib_server, "/compare", body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    if code is not None:
        assert error["code"] == code
    assert len(response.text) < 2000 and "Traceback" not in response.text
    assert "\x1b" not in error["message"]


def test_cli_compare_under_a_point(dlib_server: Server, shared_faces: Path) -> None:
    obama = shared_faces / "identities" / "obama"
    command = [sys.executable, "-m", "facereid", "--url", dlib_server.url, "--json", "compare"]
    command += [str(obama / "obama1.jpg"), str(obama / "obama2.jpg")]
    for point, cut in (("fmr_1e-3", STRICT), ("fmr_1e-2", LOOSE)):
        done = subprocess.run(
            [*command, "--operating-point", point],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        verdict = json.loads(done.stdout)
        assert (verdict["threshold"], verdict["operating_point"]) == (cut, point)
        assert verdict["same_person"] is (verdict["similarity"] >= cut) is True
    refused = subprocess.run(
        [*command, "--operating-point", "fmr_7"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode != 0 and "unknown_operating_point" in refused.stderr
