"""A small HTTP client for the API: our error shape in, typed exceptions out, exit codes for
scripts (docs/console.md#exit-codes)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx

# Exit codes a script can branch on; 2 is click's own "usage error".
EXIT_OK = 0
EXIT_REJECTED = 1  # the API refused this input (4xx other than 401): bad image, no face, ...
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3  # no answer: connection refused, DNS, timeout
EXIT_UNAUTHORIZED = 4  # 401: missing or wrong API key
EXIT_SERVER = 5  # 5xx: overloaded, model unavailable, internal error
EXIT_JOB_FAILED = 6  # a video job ended failed or cancelled
EXIT_NOT_FOUND = 7  # 404: unknown job, gallery, route (e.g. a server without galleries)


class CliError(Exception):
    """Something to show on stderr, as ``code: message``, and the exit code to leave with."""

    def __init__(self, code: str, message: str, exit_code: int, status: int | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.exit_code = exit_code
        self.status = status


def exit_code_for(status: int) -> int:
    if status == 401:
        return EXIT_UNAUTHORIZED
    if status == 404:
        return EXIT_NOT_FOUND
    return EXIT_SERVER if status >= 500 else EXIT_REJECTED


def error_from(response: httpx.Response) -> CliError:
    """Our ``{"error": {"code", "message"}}`` as it is; anything else by its status."""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and "code" in error:
        code, message = str(error["code"]), str(error.get("message", ""))
    else:
        code, message = f"http_{response.status_code}", response.text[:200].strip()
    return CliError(code, message, exit_code_for(response.status_code), response.status_code)


def image_b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


class ApiClient:
    """One ``httpx.Client`` for a command; the key goes in ``X-API-Key``, never in a URL."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"User-Agent": "facereid-cli"}
        if api_key:
            headers["X-API-Key"] = api_key
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s, transport=transport
        )

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def post(self, path: str, payload: dict[str, Any]) -> Any:
        return self._send("POST", path, json=payload)

    def upload(self, path: str, field: str, file: Path, form: dict[str, str]) -> Any:
        with file.open("rb") as handle:
            return self._send("POST", path, files={field: (file.name, handle)}, data=form)

    def get(self, path: str) -> Any:
        return self._send("GET", path)

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise CliError(
                "timeout", f"no answer from {self.http.base_url}: {exc}", EXIT_UNREACHABLE
            ) from exc
        except httpx.TransportError as exc:
            raise CliError(
                "unreachable", f"cannot reach {self.http.base_url}: {exc}", EXIT_UNREACHABLE
            ) from exc
        if response.status_code >= 400:
            raise error_from(response)
        try:
            return response.json()
        except json.JSONDecodeError as exc:
            raise CliError("bad_answer", "the server's answer is not JSON", EXIT_SERVER) from exc
