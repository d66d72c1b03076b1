"""Global options (``--url``, ``--api-key``, ``--json``, ``--timeout``) work before or after the
command, and ``FACEREID_URL`` names the server (issue 23)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from facereid.cli.main import cli
from tests.unit.facereid.cli.fake_api import FakeApi, face


@pytest.fixture
def photos(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "a.jpg", tmp_path / "b.jpg"
    first.write_bytes(b"\xff\xd8one")
    second.write_bytes(b"\xff\xd8two")
    return first, second


def run(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, args, env=env or {})
    return result.exit_code, result.stdout, result.stderr


COMPARED = {"similarity": 0.95}
ANALYZED = {**face(1), "num_faces": 1, "embedding_model": "dlib/x/128"}


def test_options_after_the_command_are_taken(api: FakeApi, photos: tuple[Path, Path]) -> None:
    api.on("/compare", (200, COMPARED))
    api.on("/analyze", (200, ANALYZED))
    args = [str(photos[0]), str(photos[1])]
    code, out, err = run(
        ["compare", *args, "--url", "http://elsewhere:9", "--api-key", "k2", "--json"]
    )
    assert code == 0, err
    assert json.loads(out)["similarity"] == 0.95
    request = api.requests[0]
    assert request.url.host == "elsewhere" and request.url.port == 9
    assert request.headers["x-api-key"] == "k2"


def test_the_equals_form_and_a_subgroup_command(api: FakeApi) -> None:
    api.on("/gallery/list", (200, {"galleries": []}))
    code, _, err = run(["gallery", "list", "--url=http://there:7", "--json", "--timeout", "5"])
    assert code == 0, err
    assert api.requests and api.requests[0].url.host == "there"


def test_an_option_value_that_looks_like_a_global_is_left_alone(
    api: FakeApi, photos: tuple[Path, Path]
) -> None:
    api.on("/gallery/enroll", (200, {"face_id": "f", "subject": "--json", "gallery": "g"}))
    code, out, err = run(["gallery", "enroll", "g", str(photos[0]), "--subject", "--json"])
    assert code == 0, err
    assert api.body(0)["subject"] == "--json"
    assert not out.lstrip().startswith("{")  # --json was the subject, not the global flag


def test_facereid_url_names_the_server(api: FakeApi, photos: tuple[Path, Path]) -> None:
    api.on("/compare", (200, COMPARED))
    api.on("/analyze", (200, ANALYZED))
    code, _, err = run(
        ["compare", str(photos[0]), str(photos[1])], env={"FACEREID_URL": "http://envhost:8"}
    )
    assert code == 0, err
    assert api.requests[0].url.host == "envhost"


def test_url_flag_beats_facereid_url(api: FakeApi, photos: tuple[Path, Path]) -> None:
    api.on("/compare", (200, COMPARED))
    api.on("/analyze", (200, ANALYZED))
    code, _, err = run(
        ["--url", "http://flag:1", "compare", str(photos[0]), str(photos[1])],
        env={"FACEREID_URL": "http://envhost:8"},
    )
    assert code == 0, err
    assert api.requests[0].url.host == "flag"
