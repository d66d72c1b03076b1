"""Body framing: multipart without a boundary, text where a file is expected."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from facereid.web.content import upload_fields
from tests.unit.facereid.protected_app import protected_app

client = TestClient(protected_app())


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=" + "b" * 300,
    ],
)
def test_multipart_without_a_usable_boundary_is_400(content_type: str) -> None:
    """Before: every JSON route answered 500."""
    response = client.post("/compare", content=b"--x\r\n", headers={"content-type": content_type})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_content_type"
    assert response.headers["x-request-id"]


def test_a_content_type_that_is_not_text_is_400() -> None:
    response = client.post(
        "/compare", content=b"{}", headers=[(b"content-type", b"application/json\xff")]
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_content_type"


def test_text_for_a_file_field_is_422() -> None:
    """Before: 500 (BentoML coerced the text into a file by fetching it as a URL)."""
    for response in (
        client.post("/video/submit", files={"video": (None, "http://169.254.169.254/")}),
        client.post("/video/submit", data={"video": "http://169.254.169.254/"}),
        client.post("/video/submit", json={"video": "http://169.254.169.254/"}),
        client.post("/video/submit"),
    ):
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "file_expected"
        assert "video" in response.json()["error"]["message"]


def test_a_real_file_upload_and_other_text_fields_pass() -> None:
    response = client.post(
        "/video/submit",
        files={"video": ("clip.mp4", b"\x00" * 70_000, "video/mp4")},
        data={"sample_fps": "2"},
    )
    assert response.status_code == 200
    assert response.json() == {"fields": ["sample_fps", "video"]}
    # other routes take multipart text fields as they are
    other = client.post("/analyze", files={"image_data": (None, "abc")})
    assert other.status_code == 200


def test_upload_fields_are_read_from_the_api_signatures() -> None:
    from pydantic import BaseModel

    class VideoInput(BaseModel):
        video: Path
        sample_fps: float | None = None

    class JsonInput(BaseModel):
        image_data: str

    class Api:
        def __init__(self, route: str, spec: type[BaseModel]) -> None:
            self.route, self.input_spec = route, spec

    apis = {"video": Api("/video/submit", VideoInput), "analyze": Api("/analyze", JsonInput)}
    assert upload_fields(apis) == {"/video/submit": frozenset({"video"})}


def _multipart(*parts: bytes) -> bytes:
    return b"".join(b"--zz\r\n" + part + b"\r\n" for part in parts) + b"--zz--\r\n"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        # starlette refuses these with an exception that BentoML answered as a 500
        (_multipart(b"Content-Disposition: form-data\r\n\r\nv"), 400, "malformed_multipart"),
        (
            _multipart(b'Content-Disposition: form-data; name="t"\r\n\r\n' + b"x" * 1_100_000),
            413,
            "payload_too_large",
        ),
        (
            _multipart(*[b'Content-Disposition: form-data; name="f"\r\n\r\nv'] * 1001),
            413,
            "payload_too_large",
        ),
    ],
)
def test_multipart_bodies_starlette_would_refuse_are_contract_errors(
    body: bytes, status: int, code: str
) -> None:
    response = client.post(
        "/analyze", content=body, headers={"content-type": "multipart/form-data; boundary=zz"}
    )
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_a_large_file_part_is_not_a_text_part() -> None:
    body = _multipart(
        b'Content-Disposition: form-data; name="video"; filename="v.mp4"\r\n\r\n' + b"x" * 1_100_000
    )
    response = client.post(
        "/video/submit", content=body, headers={"content-type": "multipart/form-data; boundary=zz"}
    )
    assert response.status_code == 200
