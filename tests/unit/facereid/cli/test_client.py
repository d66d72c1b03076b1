"""Our error shape to CliError and exit codes; unreachable servers."""

from __future__ import annotations

import httpx
import pytest

from facereid.cli.client import (
    EXIT_NOT_FOUND,
    EXIT_REJECTED,
    EXIT_SERVER,
    EXIT_UNAUTHORIZED,
    EXIT_UNREACHABLE,
    ApiClient,
    CliError,
    error_from,
)


@pytest.mark.parametrize(
    ("status", "exit_code"),
    [
        (400, EXIT_REJECTED),
        (422, EXIT_REJECTED),
        (413, EXIT_REJECTED),
        (401, EXIT_UNAUTHORIZED),
        (404, EXIT_NOT_FOUND),
        (500, EXIT_SERVER),
        (503, EXIT_SERVER),
    ],
)
def test_our_error_is_kept_as_it_is(status: int, exit_code: int) -> None:
    body = {"error": {"code": "no_face_detected", "message": "no face found in the image"}}
    error = error_from(httpx.Response(status, json=body))
    assert (error.code, error.message) == ("no_face_detected", "no face found in the image")
    assert error.exit_code == exit_code
    assert str(error) == "no_face_detected: no face found in the image"


def test_an_answer_not_in_our_shape_is_named_by_its_status() -> None:
    error = error_from(httpx.Response(502, text="<html>Bad Gateway</html>"))
    assert error.code == "http_502"
    assert "Bad Gateway" in error.message
    assert error.exit_code == EXIT_SERVER


def test_the_key_travels_in_a_header_not_the_url() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    with ApiClient("http://api", "s3cret", transport=httpx.MockTransport(handle)) as client:
        assert client.post("/compare", {"a": 1}) == {"ok": True}
    assert seen[0].headers["x-api-key"] == "s3cret"
    assert "s3cret" not in str(seen[0].url)


def test_an_unreachable_server_is_its_own_exit_code() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with ApiClient("http://api", transport=httpx.MockTransport(refuse)) as client:
        with pytest.raises(CliError) as caught:
            client.post("/analyze", {})
    assert caught.value.exit_code == EXIT_UNREACHABLE
    assert caught.value.code == "unreachable"


def test_a_non_json_success_is_a_server_error() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text="hello"))
    with ApiClient("http://api", transport=transport) as client:
        with pytest.raises(CliError) as caught:
            client.post("/analyze", {})
    assert caught.value.exit_code == EXIT_SERVER
