"""Echoed input is truncated and escaped (facereid.errors.echo)."""

from __future__ import annotations

from facereid.errors import echo


def test_long_input_is_cut_with_its_length_said() -> None:
    text = echo("j" * 1_000_000)
    assert len(text) < 120
    assert text.startswith("j" * 64)
    assert "1000000 characters" in text


def test_control_characters_are_escaped_and_short_input_kept() -> None:
    assert echo("job-1") == "job-1"
    assert echo("a\nb\x1b") == "a\\nb\\x1b"
    assert "\n" not in echo("\n" * 500)
