"""API keys and the tenants they belong to, checked by a pure ASGI middleware.

Keys come from ``API_KEYS`` (plain, comma-separated) and/or ``API_KEYS_FILE``: per line a
sha256 hex digest, optionally followed by a tenant name (``<digest> <tenant>``), so the file
never holds a usable key and several keys can share a tenant. A key without a named tenant is a
tenant of its own (``key-`` and a prefix of its digest). Only digests are kept in memory. A
presented key is hashed and compared with *every* known digest by ``hmac.compare_digest``, so
neither the match nor its position leaks through timing.

``AUTH`` decides what an empty key source means (``resolve_keys``): a source that is set but
holds no key (``API_KEYS=" , "``, a key file of comments, an empty Secret mount) refuses to
start instead of silently opening the API.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from facereid.errors import UnauthorizedError, echo
from facereid.web.contract import ASGIApp, Receive, Scope, Send, send_json_error

logger = logging.getLogger(__name__)

_DIGEST = re.compile(r"[0-9a-f]{64}")
# Tenant names end up in job tables, logs and metrics: a small, printable alphabet.
TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


class AuthConfigError(SystemExit):
    """A key setup the service refuses to start with. A ``SystemExit`` so that the process
    ends with this one line instead of a traceback."""


@dataclass(frozen=True)
class ApiKey:
    digest: bytes
    tenant: str

    @property
    def key_id(self) -> str:
        """A short, non-secret id of the key (a digest prefix) for budgets and logs."""
        return self.digest[:8].hex()


def key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def own_tenant(digest: bytes) -> str:
    return f"key-{digest[:6].hex()}"


def checked_tenant(name: str, where: str) -> str:
    if not TENANT_NAME.fullmatch(name):
        raise AuthConfigError(
            f"{where}: tenant {echo(name)!r} is not 1-63 characters of A-Z a-z 0-9 _ . - "
            "starting with a letter or digit"
        )
    return name


def load_keys(keys: str = "", keys_file: str | None = None) -> list[ApiKey]:
    """The configured keys; raises ``AuthConfigError`` on a malformed or unreadable file."""
    digests = [key_digest(k.strip()) for k in keys.split(",") if k.strip()]
    loaded = [ApiKey(digest, own_tenant(digest)) for digest in digests]
    if keys_file:
        try:
            lines = Path(keys_file).read_text().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise AuthConfigError(f"API_KEYS_FILE {keys_file}: {type(exc).__name__}") from exc
        for number, line in enumerate(lines, start=1):
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            where = f"API_KEYS_FILE {keys_file}:{number}"
            text = fields[0].lower()
            if not _DIGEST.fullmatch(text) or len(fields) > 2:
                raise AuthConfigError(f"{where}: expected '<sha256 hex digest> [tenant]'")
            digest = bytes.fromhex(text)
            tenant = checked_tenant(fields[1], where) if len(fields) == 2 else own_tenant(digest)
            loaded.append(ApiKey(digest, tenant))
    return loaded


def load_key_digests(keys: str = "", keys_file: str | None = None) -> list[bytes]:
    return [k.digest for k in load_keys(keys, keys_file)]


def resolve_keys(mode: str, keys: str, keys_file: str | None) -> list[ApiKey]:
    """Keys to require, or ``[]`` for an open API, following ``AUTH``.

    ``auto`` keeps ``make serve`` working on a fresh machine (no source set: open, with a
    warning), ``required`` is what deployments set, ``off`` is the explicit way to open it.
    """
    configured = bool(keys.strip()) or bool(keys_file)
    if mode == "off":
        if configured:
            logger.warning("AUTH=off: API_KEYS/API_KEYS_FILE are ignored, the API is open")
        return []
    loaded = load_keys(keys, keys_file)
    if loaded:
        return loaded
    if configured:
        raise AuthConfigError(
            "refusing to start: API_KEYS/API_KEYS_FILE is set but holds no key "
            "(set keys, or AUTH=off to run without authentication)"
        )
    if mode == "required":
        raise AuthConfigError(
            "refusing to start: AUTH=required but neither API_KEYS nor API_KEYS_FILE holds a key"
        )
    logger.warning("no API keys configured (AUTH=auto): the API is open to every caller")
    return []


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


def matching_key(key: str, keys: Iterable[ApiKey]) -> ApiKey | None:
    """The key ``key`` matches, comparing against all of them in constant time each."""
    candidate = key_digest(key)
    found: ApiKey | None = None
    for known in keys:
        if hmac.compare_digest(candidate, known.digest) and found is None:
            found = known
    return found


class ApiKeyMiddleware:
    """401 ``unauthorized`` unless a configured key is presented; exempt paths stay open.

    On success ``scope["state"]`` holds ``api_key_id`` (the rate limiter's identity) and
    ``tenant`` (read by ``facereid.web.tenancy.tenant_of``).
    """

    def __init__(self, app: ASGIApp, keys: list[ApiKey], exempt_paths: Iterable[str] = ()) -> None:
        self.app = app
        self.keys = list(keys)
        self.exempt_paths = frozenset(exempt_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not self.keys
            or scope.get("method") == "OPTIONS"  # CORS preflights carry no credentials
            or scope.get("path", "") in self.exempt_paths
        ):
            await self.app(scope, receive, send)
            return
        presented = presented_key(scope)
        known = None if presented is None else matching_key(presented, self.keys)
        if known is None:
            message = "missing API key" if presented is None else "invalid API key"
            await send_unauthorized(send, message)
            return
        state = scope.setdefault("state", {})
        state["api_key_id"] = known.key_id
        state["tenant"] = known.tenant
        await self.app(scope, receive, send)


async def send_unauthorized(send: Send, message: str) -> None:
    challenge = [(b"www-authenticate", b'Bearer realm="facereid"')]
    await send_json_error(send, UnauthorizedError(message), challenge)
