"""The web console at ``/ui``: a few static files served from memory by a pure ASGI middleware.

The page holds no data (it asks the API for everything, sending the key the user typed), so it
sits outside the API-key check. Only the files shipped in ``facereid/web/console/`` are served,
looked up by exact name in a table built at start-up: no path from the request ever reaches the
file system. Its Content-Security-Policy allows the console's own script and style and nothing
else from anywhere; images and video stay in the browser as ``blob:`` URLs.
"""

from __future__ import annotations

import logging
import mimetypes
import re
from pathlib import Path

from facereid.web.contract import ASGIApp, Receive, Scope, Send, error_body

logger = logging.getLogger(__name__)

CONSOLE_DIR = Path(__file__).with_name("console")
PREFIX = "/ui"
_SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")

# 'self' for the console's own files and API calls; blob: for the photos and the video the
# user picked (shown and cropped locally, never uploaded through a URL).
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' blob:; media-src blob:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".svg": "image/svg+xml",
}


def load_console_files(directory: Path = CONSOLE_DIR) -> dict[str, tuple[bytes, str]]:
    """Path under ``/ui`` -> (body, content type); ``/ui`` and ``/ui/`` are the index page."""
    files: dict[str, tuple[bytes, str]] = {}
    if not directory.is_dir():
        logger.warning("web console files missing at %s; /ui answers 404", directory)
        return files
    for path in sorted(directory.iterdir()):
        if not path.is_file() or not _SAFE_NAME.match(path.name):
            continue
        kind = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
        if kind is None:
            continue
        charset = "; charset=utf-8" if kind.startswith("text/") else ""
        files[f"{PREFIX}/{path.name}"] = (path.read_bytes(), kind + charset)
    if f"{PREFIX}/index.html" in files:
        files[PREFIX] = files[f"{PREFIX}/"] = files[f"{PREFIX}/index.html"]
    return files


class ConsoleMiddleware:
    """Answers ``GET``/``HEAD`` under ``/ui``; every other path goes on to the API."""

    def __init__(self, app: ASGIApp, directory: Path = CONSOLE_DIR) -> None:
        self.app = app
        self.files = load_console_files(directory)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        method = scope.get("method")
        found = self.files.get(path)
        if method not in ("GET", "HEAD"):
            status, body, kind = 405, error_body("method_not_allowed", "use GET"), None
        elif found is None:
            status, body, kind = 404, error_body("not_found", f"no console file {path}"), None
        else:
            status, (body, kind) = 200, found
        headers = [
            (b"content-type", (kind or "application/json").encode()),
            (b"content-length", str(len(body)).encode()),
            (b"content-security-policy", CONSOLE_CSP.encode()),
            (b"cache-control", b"no-cache"),
        ]
        if status == 405:
            headers.append((b"allow", b"GET, HEAD"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
