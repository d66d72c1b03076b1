"""``facereid gallery retention|export``, ``facereid audit`` and ``facereid erase-tenant``
against a scripted API: what they send, print and exit with (issue 22)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from facereid.cli.main import cli
from tests.unit.facereid.cli.fake_api import FakeApi


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_retention_sends_days_or_null_for_the_default(api: FakeApi) -> None:
    api.on(
        "/gallery/retention",
        (200, {"gallery": "g", "retention_days": 30.0, "effective_days": 30.0}),
        (200, {"gallery": "g", "retention_days": None, "effective_days": 1095.0}),
    )
    code, out, _ = run("gallery", "retention", "g", "30")
    assert code == 0 and "30 days (its own 30 days)" in out
    code, out, _ = run("gallery", "retention", "g", "default")
    assert code == 0 and "1095 days (the default)" in out
    assert [api.body(0), api.body(1)] == [
        {"gallery": "g", "retention_days": 30.0},
        {"gallery": "g", "retention_days": None},
    ]


def test_retention_refuses_words_before_sending(api: FakeApi) -> None:
    code, _, err = run("gallery", "retention", "g", "thirty")
    assert code == 2 and "a number of days, or 'default'" in err
    assert not api.requests


def test_a_refused_retention_shows_our_error(api: FakeApi) -> None:
    refusal = {"error": {"code": "invalid_request", "message": "retention_days must be 0-36500"}}
    api.on("/gallery/retention", (422, refusal))
    code, _, err = run("gallery", "retention", "g", "99999")
    assert code != 0 and "invalid_request: retention_days must be 0-36500" in err


def test_export_follows_the_cursor_and_asks_for_embeddings(api: FakeApi) -> None:
    face = {"face_id": "f1", "subject": "ada", "created_at": "t", "source": "s"}
    api.on(
        "/gallery/export",
        (200, {"gallery": "g", "subject": "ada", "faces": [face], "next_cursor": "c2"}),
        (200, {"gallery": "g", "subject": "ada", "faces": [face], "next_cursor": None}),
    )
    code, out, _ = run("gallery", "export", "g", "ada", "--embeddings", "--all", "--limit", "1")
    assert code == 0
    assert len(json.loads(out)["faces"]) == 2
    assert api.body(0) == {
        "gallery": "g",
        "subject": "ada",
        "include_embeddings": True,
        "limit": 1,
    }
    assert api.body(1)["cursor"] == "c2"


def test_audit_shows_counts_refusals_and_takes_an_iso_since(api: FakeApi) -> None:
    entries = [
        {"seq": 1, "at": 0.0, "route": "delete", "gallery": "g", "counts": {"deleted": 2}},
        {
            "seq": 2,
            "at": 60.0,
            "route": "search",
            "gallery": "x",
            "counts": {},
            "refused": "gallery_not_found",
        },
    ]
    api.on("/audit/query", (200, {"entries": entries, "next_cursor": None}))
    code, out, _ = run("audit", "--since", "1970-01-01T00:00:00")
    assert code == 0
    assert "1970-01-01 00:00:00" in out and "deleted 2" in out and "gallery_not_found" in out
    assert api.body(0) == {"limit": 100, "since": 0.0}
    code, _, err = run("audit", "--since", "yesterday")
    assert code == 2 and "ISO 8601" in err


def test_erase_tenant_asks_first_and_sends_confirm_true(api: FakeApi) -> None:
    erased = {"galleries": 1, "faces": 3, "video_jobs": 2, "cached_analyses": 1}
    api.on("/tenant/erase", (200, erased))
    code, _, _ = run("erase-tenant", stdin="n\n")
    assert code == 1 and not api.requests  # click's Abort: nothing sent
    code, out, _ = run("erase-tenant", "--yes")
    assert code == 0 and json.loads(out) == erased
    assert api.body(0) == {"confirm": True}
