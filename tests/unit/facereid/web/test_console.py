"""ConsoleMiddleware: /ui and its files without a key, a strict CSP, nothing else served."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from facereid.web.console import CONSOLE_DIR, ConsoleMiddleware, load_console_files
from tests.unit.facereid.protected_app import protected_app


def csp(value: str) -> dict[str, str]:
    parts = (part.strip().split(" ", 1) for part in value.split(";") if part.strip())
    return {p[0]: (p[1] if len(p) > 1 else "") for p in parts}


@pytest.fixture
def client() -> TestClient:
    return TestClient(protected_app(api_keys="k", rate_limit="5/minute"))


@pytest.mark.parametrize("path", ["/ui", "/ui/", "/ui/index.html"])
def test_the_page_needs_no_key(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script type="module" src="/ui/app.js">' in response.text
    assert client.post("/compare").status_code == 401  # the API still wants one


def test_csp_allows_only_the_consoles_own_files(client: TestClient) -> None:
    policy = csp(client.get("/ui").headers["content-security-policy"])
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == policy["style-src"] == policy["connect-src"] == "'self'"
    assert policy["img-src"] == "'self' blob:" and policy["media-src"] == "blob:"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in client.get("/ui").headers["content-security-policy"]


def test_every_file_the_page_loads_is_served(client: TestClient) -> None:
    names = sorted(p.name for p in CONSOLE_DIR.iterdir() if p.suffix in (".js", ".css"))
    assert {"app.js", "api.js", "app.css"} <= set(names)
    for name in names:
        response = client.get(f"/ui/{name}")
        assert response.status_code == 200, name
        kind = "text/css" if name.endswith(".css") else "text/javascript"
        assert response.headers["content-type"] == f"{kind}; charset=utf-8"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.content == (CONSOLE_DIR / name).read_bytes()


def test_head_has_no_body(client: TestClient) -> None:
    response = client.head("/ui/app.js")
    assert response.status_code == 200 and response.content == b""
    assert int(response.headers["content-length"]) == (CONSOLE_DIR / "app.js").stat().st_size


@pytest.mark.parametrize(
    "path",
    ["/ui/nope.js", "/ui/../service.py", "/ui/%2e%2e/config.py", "/ui//etc/passwd", "/ui/APP.JS"],
)
def test_nothing_else_is_served(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code in (401, 404)  # /ui/../x is normalised to /x, behind the key
    if response.status_code == 404:
        assert response.json()["error"]["code"] == "not_found"


def test_other_methods_are_refused(client: TestClient) -> None:
    response = client.post("/ui", content=b"{}")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response.headers["allow"] == "GET, HEAD"


def test_paths_that_only_start_like_ui_go_to_the_api(client: TestClient) -> None:
    assert client.get("/uix").status_code == 401


def test_only_safe_names_with_known_types_are_loaded(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<p>hi</p>")
    (tmp_path / "app.js").write_text("1")
    (tmp_path / ".env").write_text("SECRET=1")
    (tmp_path / "notes.unknownext").write_text("x")
    (tmp_path / "sub").mkdir()
    files = load_console_files(tmp_path)
    assert set(files) == {"/ui", "/ui/", "/ui/index.html", "/ui/app.js"}


def test_a_missing_folder_answers_404_not_500(tmp_path: Path) -> None:
    async def api(scope: object, receive: object, send: object) -> None:
        raise AssertionError("/ui must not reach the API")

    app = ConsoleMiddleware(api, directory=tmp_path / "absent")
    response = TestClient(app).get("/ui")
    assert response.status_code == 404


def test_the_favicon_the_page_links_is_served_as_svg(client: TestClient) -> None:
    """Issue 32: no icon, so every load asked for /favicon.ico and got a 404."""
    page = client.get("/ui").text
    assert '<link rel="icon" href="/ui/favicon.svg" type="image/svg+xml">' in page
    response = client.get("/ui/favicon.svg")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.content.startswith(b"<svg xmlns=")
