"""Optional API keys, checked by a pure ASGI middleware.

Keys come from ``API_KEYS`` (plain, comma-separated) and/or ``API_KEYS_FILE`` (one sha256 hex
digest per line, so the file never holds a usable key). Only digests are kept in memory. A
presented key is hashed and compared with *every* known digest by ``hmac.compare_digest``, so
neither the match nor its position leaks through timing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable
from pathlib import Path

from facereid.errors import UnauthorizedError
from facereid.web.contract import ASGIApp, Receive, Scope, Send, error_body

logger = logging.getLogger(__name__)

_HEX = set("0123456789abcdef")


def key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def load_key_digests(keys: str = "", keys_file: str | None = None) -> list[bytes]:
    """Digests of the configured keys; an empty list means authentication is off."""
    digests = [key_digest(k.strip()) for k in keys.split(",") if k.strip()]
    if keys_file:
        for number, line in enumerate(Path(keys_file).read_text().splitlines(), start=1):
            text = line.strip().lower()
            if not text or text.startswith("#"):
                continue
            if len(text) != 64 or not set(text) <= _HEX:
                raise ValueError(f"{keys_file}:{number}: not a sha256 hex digest")
            digests.append(bytes.fromhex(text))
    return digests


def presented_key(scope: Scope) -> str | None:
    """``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""
    for raw_name, raw_value in scope.get("headers", []):
        name, value = bytes(raw_name).lower(), bytes(raw_value).decode("latin-1").strip()
        if name == b"authorization":
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
        elif name == b"x-api-key" and value:
            return value
    return None


def matching_digest(key: str, digests: Iterable[bytes]) -> bytes | None:
    """The digest ``key`` matches, comparing against all of them in constant time each."""
    candidate = key_digest(key)
    found: bytes | None = None
    for digest in digests:
        if hmac.compare_digest(candidate, digest) and found is None:
            found = digest
    return found


class ApiKeyMiddleware:
    """401 ``unauthorized`` unless a configured key is presented; exempt paths stay open.

    On success ``scope["state"]["api_key_id"]`` holds a short, non-secret id of the key (a
    prefix of its digest), which the rate limiter uses as the client identity.
    """

    def __init__(
        self, app: ASGIApp, digests: list[bytes], exempt_paths: Iterable[str] = ()
    ) -> None:
        self.app = app
        self.digests = list(digests)
        self.exempt_paths = frozenset(exempt_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not self.digests
            or scope.get("method") == "OPTIONS"  # CORS preflights carry no credentials
            or scope.get("path", "") in self.exempt_paths
        ):
            await self.app(scope, receive, send)
            return
        key = presented_key(scope)
        digest = None if key is None else matching_digest(key, self.digests)
        if digest is None:
            message = "missing API key" if key is None else "invalid API key"
            await send_unauthorized(send, message)
            return
        scope.setdefault("state", {})["api_key_id"] = digest[:8].hex()
        scope["state"]["tenant"] = scope["state"]["api_key_id"]  # galleries, video jobs
        await self.app(scope, receive, send)


async def send_unauthorized(send: Send, message: str) -> None:
    body = error_body(UnauthorizedError.code, message)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"www-authenticate", b'Bearer realm="facereid"'),
    ]
    await send(
        {"type": "http.response.start", "status": UnauthorizedError.status, "headers": headers}
    )
    await send({"type": "http.response.body", "body": body})
