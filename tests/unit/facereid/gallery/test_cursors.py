"""Sealed page cursors (issue 21): unreadable, unforgeable, bound to tenant, gallery and route."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from facereid.gallery.cursors import MAX_CURSOR_CHARS, CursorCodec, cursor_secret
from facereid.gallery.errors import InvalidCursorError

CODEC = CursorCodec(b"x" * 32)


def test_round_trip_and_the_name_is_not_in_clear() -> None:
    cursor = CODEC.encode("t", "g", "subjects", "Jane Q Public")
    assert CODEC.decode(cursor, "t", "g", "subjects") == "Jane Q Public"
    padded = cursor + "=" * (-len(cursor) % 4)
    assert b"Jane" not in base64.urlsafe_b64decode(padded)
    assert "Jane" not in cursor


@pytest.mark.parametrize(
    "bound", [("u", "g", "subjects"), ("t", "h", "subjects"), ("t", "g", "faces")]
)
def test_a_cursor_only_pages_what_it_was_given_for(bound: tuple[str, str, str]) -> None:
    cursor = CODEC.encode("t", "g", "subjects", "a")
    with pytest.raises(InvalidCursorError):
        CODEC.decode(cursor, *bound)


@pytest.mark.parametrize(
    "forged",
    [
        "!!!",
        "",
        "W" * 100_000,  # 100,000 '[' as base64url once crashed json.loads (500)
        base64.urlsafe_b64encode(b'{"g":' * 50_000).decode(),
        base64.urlsafe_b64encode(b'{"g": "g", "a": "x"}').decode(),  # the old, unsealed form
        CursorCodec(b"y" * 32).encode("t", "g", "subjects", "a"),  # another key
        12,
        ["a"],
    ],
)
def test_forged_or_hostile_cursors_are_400(forged: object) -> None:
    with pytest.raises(InvalidCursorError) as caught:
        CODEC.decode(forged, "t", "g", "subjects")
    assert caught.value.status == 400


def test_tampering_with_one_character_is_refused() -> None:
    cursor = CODEC.encode("t", "g", "subjects", "a")
    middle = len(cursor) // 2
    flipped = cursor[:middle] + ("A" if cursor[middle] != "A" else "B") + cursor[middle + 1 :]
    with pytest.raises(InvalidCursorError):
        CODEC.decode(flipped, "t", "g", "subjects")
    assert len(cursor) < MAX_CURSOR_CHARS


def test_the_key_file_is_made_once_private_and_reused(tmp_path: Path) -> None:
    first = cursor_secret(str(tmp_path), None)
    assert len(first) == 32 and cursor_secret(str(tmp_path), None) == first
    key_file = tmp_path / "secrets" / "cursor.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert cursor_secret(str(tmp_path), "configured-secret-123") == b"configured-secret-123"
