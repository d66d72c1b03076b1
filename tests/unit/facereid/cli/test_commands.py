"""The commands against a scripted API: what they send, print and exit with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from facereid.cli.main import cli
from tests.unit.facereid.cli.fake_api import FakeApi, face

NO_FACE = {"error": {"code": "no_face_detected", "message": "no face found in the image"}}


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "a.jpg"
    path.write_bytes(b"\xff\xd8fake")
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={"FACEREID_API_KEY": "k1"})
    return result.exit_code, result.stdout, result.stderr


def test_analyze_lists_every_face_and_sends_the_image_and_key(api: FakeApi, photo: Path) -> None:
    api.on("/analyze", (200, {**face(5), "num_faces": 2, "faces": [face(5), face(300)]}))
    code, out, _ = run("analyze", str(photo))
    assert code == 0
    assert "5, 10, 50, 60" in out and "300, 10, 50, 60" in out
    assert "happy 0.70" in out
    sent = api.body(0)
    assert sent["return_all_faces"] is True and sent["image_data"] == "/9hmYWtl"
    assert api.requests[0].headers["x-api-key"] == "k1"


def test_analyze_json_is_the_apis_answer(api: FakeApi, photo: Path) -> None:
    answer = {**face(5), "num_faces": 1, "faces": [face(5)]}
    api.on("/analyze", (200, answer))
    code, out, _ = run("--json", "analyze", "--no-emotions", str(photo))
    assert code == 0
    assert json.loads(out) == [{"image": str(photo), **answer}]
    assert api.body(0)["include_emotions"] is False


def test_analyze_goes_on_after_a_refused_image_and_exits_1(
    api: FakeApi, photo: Path, tmp_path: Path
) -> None:
    other = tmp_path / "b.jpg"
    other.write_bytes(b"x")
    api.on("/analyze", (422, NO_FACE), (200, {**face(7), "num_faces": 1, "faces": [face(7)]}))
    code, out, err = run("analyze", str(photo), str(other))
    assert code == 1
    assert f"{photo}: error: no_face_detected: no face found in the image" in err
    assert "7, 10, 50, 60" in out


def test_a_wrong_key_stops_with_exit_4(api: FakeApi, photo: Path) -> None:
    api.on("/analyze", (401, {"error": {"code": "unauthorized", "message": "invalid API key"}}))
    code, _, err = run("analyze", str(photo), str(photo))
    assert code == 4
    assert "error: unauthorized: invalid API key" in err
    assert len(api.requests) == 1


def test_a_missing_file_is_a_usage_error(api: FakeApi, tmp_path: Path) -> None:
    code, _, err = run("analyze", str(tmp_path / "nope.jpg"))
    assert code == 2
    assert "does not exist" in err
    assert not api.requests


@pytest.mark.parametrize(
    ("model", "similarity", "verdict"),
    [
        ("dlib/dlib_face_recognition_resnet_model_v1/128", 0.93, "same person"),
        ("dlib/dlib_face_recognition_resnet_model_v1/128", 0.89, "different people"),
        ("insightface/buffalo_l/512", 0.46, "same person"),
        ("insightface/buffalo_l/512", 0.40, "different people"),
    ],
)
def test_compare_verdict_uses_the_models_threshold(
    api: FakeApi, photo: Path, model: str, similarity: float, verdict: str
) -> None:
    api.on("/analyze", (200, {**face(1, model), "num_faces": 1}))
    api.on("/compare", (200, {"similarity": similarity}))
    code, out, _ = run("compare", str(photo), str(photo))
    assert code == 0
    assert out.startswith(f"{verdict}: similarity {similarity:.3f}")
    sent = api.body(2)
    assert sent["face1_model"] == sent["face2_model"] == model


def test_compare_threshold_override_and_json(api: FakeApi, photo: Path) -> None:
    api.on("/analyze", (200, {**face(1), "num_faces": 1}))
    api.on("/compare", (200, {"similarity": 0.8}))
    code, out, _ = run("--json", "compare", "--threshold", "0.75", str(photo), str(photo))
    assert code == 0
    answer = json.loads(out)
    assert answer["same_person"] is True and answer["threshold"] == 0.75


def status(state: str, done: int, error: dict[str, str] | None = None) -> dict[str, object]:
    body: dict[str, object] = {
        "job_id": "j1",
        "status": state,
        "progress": {"frames_done": done, "frames_total": 4, "fraction": done / 4},
    }
    if error:
        body["error"] = error
    return body


RESULT = {
    "job_id": "j1",
    "status": "completed",
    "embedding_model": "dlib/x/128",
    "frames_sampled": 4,
    "num_identities": 1,
    "identities": [
        {
            "identity_id": 0,
            "face_count": 3,
            "segments": [{"start_s": 0.0, "end_s": 1.5}],
            "dominant_emotion": "happy",
        }
    ],
}


def test_video_wait_follows_the_job_and_prints_identities(api: FakeApi, photo: Path) -> None:
    api.on("/video/submit", (202, status("queued", 0)))
    api.on("/video/status", (200, status("running", 2)), (200, status("completed", 4)))
    api.on("/video/result", (200, RESULT))
    code, out, _ = run("video", "--wait", "--poll", "0", "--sample-fps", "1", str(photo))
    assert code == 0, out
    assert "person 1" in out and "0.0-1.5" in out and "happy" in out
    assert api.paths() == ["/video/submit", "/video/status", "/video/status", "/video/result"]
    upload = api.requests[0].content
    assert b'name="sample_fps"' in upload and b'name="video"; filename="a.jpg"' in upload


def test_video_without_wait_prints_the_job(api: FakeApi, photo: Path) -> None:
    api.on("/video/submit", (202, status("queued", 0)))
    code, out, _ = run("video", str(photo))
    assert (code, out.strip()) == (0, "job j1 queued")


def test_a_failed_job_exits_6_with_its_error(api: FakeApi, photo: Path) -> None:
    error = {"code": "empty_video", "message": "no decodable frame"}
    api.on("/video/submit", (202, status("queued", 0)))
    api.on("/video/status", (200, status("failed", 0, error)))
    code, _, err = run("video", "--wait", "--poll", "0", str(photo))
    assert code == 6
    assert "error: empty_video: no decodable frame" in err


def test_a_refused_video_shows_our_message(api: FakeApi, photo: Path) -> None:
    refusal = {"error": {"code": "unsupported_video", "message": "not a video FFmpeg reads"}}
    api.on("/video/submit", (415, refusal))
    code, _, err = run("video", "--wait", str(photo))
    assert code == 1
    assert "error: unsupported_video: not a video FFmpeg reads" in err


def test_global_options_after_the_command_and_facereid_url(
    api: FakeApi, photo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 23: ``facereid compare a b --url X`` was "No such option"; no FACEREID_URL."""
    answer = {**face(5), "num_faces": 1, "faces": [face(5)]}
    api.on("/analyze", (200, answer))
    code, out, err = run("analyze", "--no-emotions", str(photo), "--json", "--url", "http://h:9")
    assert code == 0, err
    assert json.loads(out)[0]["num_faces"] == 1
    assert str(api.requests[0].url).startswith("http://h:9/")
    result = CliRunner().invoke(
        cli, ["analyze", str(photo), "--timeout=5"], env={"FACEREID_URL": "http://env-host:7"}
    )
    assert result.exit_code == 0, result.stderr
    assert str(api.requests[1].url).startswith("http://env-host:7/")


def test_analyze_attributes_asks_for_them_and_shows_a_column(api: FakeApi, photo: Path) -> None:
    attrs = {
        "age": 34,
        "gender": "female",
        "gender_probability": 0.91,
        "pose": {"pitch": 4.2, "yaw": -31.6, "roll": 1.0},
        "source": "insightface/buffalo_l",
        "reason": None,
    }
    one = {**face(5), "attributes": attrs}
    api.on("/analyze", (200, {**one, "num_faces": 1, "faces": [one]}))
    code, out, _ = run("analyze", "--attributes", str(photo))
    assert code == 0
    assert api.body(0)["include_attributes"] is True
    assert "attributes" in out and "age 34, female 0.91, yaw -32 pitch 4 roll 1" in out


def test_analyze_shows_each_face_quality_and_its_weakest_part(api: FakeApi, photo: Path) -> None:
    parts = {"detector": 0.99, "size": 0.56, "sharpness": 0.9, "pose": 0.8}
    one = {**face(5), "quality": {"score": 0.56, "components": parts}}
    api.on("/analyze", (200, {**one, "num_faces": 1, "faces": [one]}))
    code, out, _ = run("analyze", str(photo))
    assert code == 0
    assert "quality" in out and "0.56 size" in out


def test_analyze_without_attributes_does_not_ask(api: FakeApi, photo: Path) -> None:
    api.on("/analyze", (200, {**face(5), "num_faces": 1, "faces": [face(5)]}))
    assert run("analyze", str(photo))[0] == 0
    assert "include_attributes" not in api.body(0)
