"""The privacy routes from the command line (issue 22, docs/privacy.md): a gallery's retention,
a subject's export, the tenant's audit log and the tenant erase. ``gallery delete`` and
``gallery drop`` are in facereid/cli/gallery.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from facereid.cli import output
from facereid.cli.gallery import gallery, pages


def _days(value: str) -> float | None:
    """DAYS: a number of days, or ``default`` (GALLERY_RETENTION_DAYS applies again)."""
    if value == "default":
        return None
    try:
        return float(value)
    except ValueError:
        raise click.BadParameter("a number of days, or 'default'") from None


@gallery.command()
@click.argument("name")
@click.argument("days")
@click.pass_context
def retention(ctx: click.Context, name: str, days: str) -> None:
    """Keep the faces of gallery NAME for DAYS after enrolment (0: until deleted; 'default':
    the server's GALLERY_RETENTION_DAYS); older faces are erased by the retention sweep."""
    body = {"gallery": name, "retention_days": _days(days)}
    with ctx.obj.client() as client:
        answer = client.post("/gallery/retention", body)
    if ctx.obj.as_json:
        output.emit_json(answer)
        return
    own = answer["retention_days"]
    shown = "the default" if own is None else f"its own {own:g} days"
    click.echo(f"{name}: faces kept {answer['effective_days']:g} days ({shown})")


@gallery.command()
@click.argument("name")
@click.argument("subject")
@click.option("--embeddings", is_flag=True, help="Include each face's embedding.")
@click.option("--limit", default=100, show_default=True)
@click.option("--all", "every", is_flag=True, help="Follow next_cursor to the end.")
@click.pass_context
def export(
    ctx: click.Context, name: str, subject: str, embeddings: bool, limit: int, every: bool
) -> None:
    """Everything gallery NAME holds about SUBJECT (always JSON: it is the data subject's)."""
    body = {"gallery": name, "subject": subject, "include_embeddings": embeddings, "limit": limit}
    output.emit_json(pages(ctx, "/gallery/export", body, "faces", every))


@click.command()
@click.option("--since", help="ISO 8601 time or Unix seconds; default: everything kept.")
@click.option("--limit", default=100, show_default=True)
@click.option("--all", "every", is_flag=True, help="Follow next_cursor to the end.")
@click.pass_context
def audit(ctx: click.Context, since: str | None, limit: int, every: bool) -> None:
    """Your tenant's audit log, oldest first: who did what to which gallery."""
    body: dict[str, Any] = {"limit": limit}
    if since is not None:
        body["since"] = _seconds(since)
    answer = pages(ctx, "/audit/query", body, "entries", every)
    if ctx.obj.as_json:
        output.emit_json(answer)
        return
    rows = [
        (
            dt.datetime.fromtimestamp(e["at"], dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            e["route"],
            e.get("gallery"),
            e.get("refused") or " ".join(f"{k} {v}" for k, v in e["counts"].items()),
            e.get("key_id"),
        )
        for e in answer["entries"]
    ]
    output.table(None, ["UTC", "route", "gallery", "counts or refusal", "key"], rows)
    if answer.get("next_cursor") is not None:
        click.echo(f"more: --all, or cursor {answer['next_cursor']}", err=True)


def _seconds(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        pass
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("ISO 8601 (2026-12-05T10:00) or Unix seconds") from None
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)).timestamp()


@click.command("erase-tenant")
@click.option("--yes", is_flag=True, help="Do not ask.")
@click.pass_context
def erase_tenant(ctx: click.Context, yes: bool) -> None:
    """Erase everything your API key's tenant holds: every gallery, video job and cached
    analysis, down to the disk. There is no undo."""
    if not yes:
        click.confirm("Erase every gallery, video job and cached analysis?", abort=True, err=True)
    with ctx.obj.client() as client:
        output.emit_json(client.post("/tenant/erase", {"confirm": True}))
