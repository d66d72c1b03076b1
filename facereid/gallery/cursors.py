"""Page cursors of ``/gallery/subjects`` and ``/gallery/faces``: sealed, so that a client can
neither read nor forge them (docs/gallery.md, docs/security.md).

A cursor holds where the next page starts (a subject name or a face id), the tenant, gallery
and route it pages through, sealed with Fernet (the ``cryptography`` package: AES-128-CBC and
HMAC-SHA256 in one vetted construction, rather than a cipher written here). A cursor this
service did not issue, one for another gallery, route or tenant, or one that is too long is
refused with 400 ``invalid_cursor`` before anything is parsed; a subject's name never appears in
clear in a URL, a log or a browser history.

The key: ``GALLERY_CURSOR_SECRET`` when set (every API replica must then share it), else 32
random bytes kept in ``DATA_DIR/secrets/cursor.key`` (mode 0600), made on first use.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import time
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from facereid.gallery.errors import InvalidCursorError

MAX_CURSOR_CHARS = 2048  # a sealed 256-character name is about 600
KEY_FILE = Path("secrets") / "cursor.key"


def cursor_secret(data_dir: str, configured: str | None) -> bytes:
    """The configured secret, else the one under ``data_dir`` (made once, race-free)."""
    if configured:
        return configured.encode()
    path = Path(data_dir) / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        fd = -1  # made by another worker (or an earlier run): read it below
    if fd >= 0:
        secret = secrets.token_bytes(32)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secret)
        return secret
    for _ in range(50):  # another worker may be between its create and its write
        secret = path.read_bytes()
        if len(secret) >= 32:
            return secret
        time.sleep(0.02)
    raise RuntimeError(f"{path} holds fewer than 32 bytes; remove it to make a new key")


class CursorCodec:
    def __init__(self, secret: bytes) -> None:
        key = hashlib.sha256(b"facereid gallery cursor\0" + secret).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def encode(self, tenant: str, gallery: str, route: str, after: str) -> str:
        payload = json.dumps([tenant, gallery, route, after], ensure_ascii=False).encode()
        return self._fernet.encrypt(payload).decode("ascii").rstrip("=")

    def decode(self, cursor: object, tenant: str, gallery: str, route: str) -> str | None:
        if cursor is None:
            return None
        if not isinstance(cursor, str) or not 0 < len(cursor) <= MAX_CURSOR_CHARS:
            raise InvalidCursorError(f"cursor must be a string of 1-{MAX_CURSOR_CHARS} characters")
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            data = json.loads(self._fernet.decrypt(padded.encode("ascii")))
        except (InvalidToken, ValueError, UnicodeError, RecursionError) as exc:
            raise InvalidCursorError("cursor is not one this service gave out") from exc
        if (
            not isinstance(data, list)
            or len(data) != 4
            or data[:3] != [tenant, gallery, route]
            or not isinstance(data[3], str)
        ):
            raise InvalidCursorError("cursor is not one this service gave out for this gallery")
        return data[3]
