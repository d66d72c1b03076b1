"""``facereid gallery ...``: the server-side galleries (docs/gallery.md, issue 13's API)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from facereid.cli import output
from facereid.cli.client import image_b64

FilePath = click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)


def _client(ctx: click.Context) -> Any:
    return ctx.obj.client()


def _as_json(ctx: click.Context) -> bool:
    return bool(ctx.obj.as_json)


def pages(ctx: click.Context, path: str, body: dict[str, Any], key: str, every: bool) -> Any:
    """One page, or with ``every`` all of them by ``next_cursor``, merged under ``key``; the
    answer's ``next_cursor`` is the last page's."""
    with _client(ctx) as client:
        answer = client.post(path, body)
        items = list(answer[key])
        while every and answer.get("next_cursor"):
            answer = client.post(path, {**body, "cursor": answer["next_cursor"]})
            items += answer[key]
    return {**answer, key: items}


@click.group()
def gallery() -> None:
    """Enrol faces, search by photo, list, delete, cluster and name."""


@gallery.command("list")
@click.pass_context
def list_galleries(ctx: click.Context) -> None:
    """The galleries of your tenant, with their face counts and model."""
    with _client(ctx) as client:
        answer = client.post("/gallery/list", {})
    if _as_json(ctx):
        output.emit_json(answer)
        return
    items = answer.get("galleries", []) if isinstance(answer, dict) else answer
    # issue 13 names the fields of a gallery only loosely; take the likely spellings
    rows = [
        (
            g.get("gallery", g.get("name")),
            g.get("faces", g.get("num_faces")),
            g.get("embedding_model"),
        )
        for g in items
    ]
    output.table(None, ["gallery", "faces", "embedding model"], rows)


@gallery.command()
@click.argument("name")
@click.argument("images", nargs=-1, required=True, type=FilePath)
@click.option("--subject", help="Who this is; leave out to enrol unnamed faces to cluster.")
@click.pass_context
def enroll(ctx: click.Context, name: str, images: tuple[Path, ...], subject: str | None) -> None:
    """Enrol the largest face of each image into gallery NAME."""
    answers = []
    with _client(ctx) as client:
        for path in images:
            body = {"gallery": name, "subject": subject, "image_data": image_b64(path)}
            answers.append({"image": str(path), **client.post("/gallery/enroll", body)})
    if _as_json(ctx):
        output.emit_json(answers)
        return
    rows = [(a["image"], a.get("subject"), a["face_id"], a.get("num_faces")) for a in answers]
    output.table(None, ["image", "subject", "face id", "faces in image"], rows)


@gallery.command()
@click.argument("name")
@click.argument("image", type=FilePath)
@click.option("--top-k", default=5, show_default=True)
@click.option("--threshold", type=float, help="Default: the gallery model's threshold.")
@click.pass_context
def search(ctx: click.Context, name: str, image: Path, top_k: int, threshold: float | None) -> None:
    """Who in gallery NAME looks like the largest face of IMAGE, best first."""
    body: dict[str, Any] = {"gallery": name, "image_data": image_b64(image), "top_k": top_k}
    if threshold is not None:
        body["threshold"] = threshold
    with _client(ctx) as client:
        answer = client.post("/gallery/search", body)
    if _as_json(ctx):
        output.emit_json(answer)
        return
    rows = [(m.get("subject"), f"{m['similarity']:.3f}", m["face_id"]) for m in answer["matches"]]
    title = f"threshold {answer.get('threshold')} ({answer.get('embedding_model')})"
    output.table(title, ["subject", "similarity", "face id"], rows)


@gallery.command()
@click.argument("name")
@click.option("--limit", default=100, show_default=True)
@click.option("--cursor", help="next_cursor of the previous page.")
@click.option("--all", "every", is_flag=True, help="Follow next_cursor to the end.")
@click.pass_context
def subjects(ctx: click.Context, name: str, limit: int, cursor: str | None, every: bool) -> None:
    """The named subjects of gallery NAME and their face counts."""
    body: dict[str, Any] = {"gallery": name, "limit": limit}
    if cursor:
        body["cursor"] = cursor
    answer = pages(ctx, "/gallery/subjects", body, "subjects", every)
    found, cursor = answer["subjects"], answer.get("next_cursor")
    if _as_json(ctx):
        output.emit_json({"subjects": found, "next_cursor": cursor})
        return
    output.table(None, ["subject", "faces"], [(s["subject"], s["faces"]) for s in found])
    if cursor:
        output.say(f"more: --cursor {cursor}")


@gallery.command()
@click.argument("name")
@click.option("--subject", help="Delete every face of this subject.")
@click.option("--face-id", help="Delete this one face.")
@click.pass_context
def delete(ctx: click.Context, name: str, subject: str | None, face_id: str | None) -> None:
    """Delete a subject's faces or one face from gallery NAME."""
    if (subject is None) == (face_id is None):
        raise click.UsageError("give exactly one of --subject or --face-id")
    body = {"gallery": name, **({"subject": subject} if subject else {"face_id": face_id})}
    with _client(ctx) as client:
        answer = client.post("/gallery/delete", body)
    if _as_json(ctx):
        output.emit_json(answer)
    else:
        output.say(f"deleted {answer.get('deleted')} face(s)")


@gallery.command()
@click.argument("name")
@click.argument("subject")
@click.argument("new_subject")
@click.pass_context
def rename(ctx: click.Context, name: str, subject: str, new_subject: str) -> None:
    """Rename SUBJECT to NEW_SUBJECT (merging into it when it exists)."""
    body = {"gallery": name, "subject": subject, "new_subject": new_subject}
    with _client(ctx) as client:
        output.emit_json(client.post("/gallery/rename", body))


@gallery.command()
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask.")
@click.pass_context
def drop(ctx: click.Context, name: str, yes: bool) -> None:
    """Delete gallery NAME and every face in it."""
    if not yes:
        click.confirm(f"Drop gallery {name} and all its faces?", abort=True, err=True)
    with _client(ctx) as client:
        output.emit_json(client.post("/gallery/drop", {"gallery": name}))


@gallery.command()
@click.argument("name")
@click.option("--min-faces", default=3, show_default=True)
@click.option("--threshold", type=float)
@click.pass_context
def cluster(ctx: click.Context, name: str, min_faces: int, threshold: float | None) -> None:
    """Group the unnamed faces of gallery NAME; name a group with ``gallery assign``."""
    body: dict[str, Any] = {"gallery": name, "min_faces": min_faces}
    if threshold is not None:
        body["threshold"] = threshold
    with _client(ctx) as client:
        answer = client.post("/gallery/cluster", body)
    if _as_json(ctx):
        output.emit_json(answer)
        return
    rows = [(c["cluster_id"], c["size"], " ".join(c["face_ids"])) for c in answer["clusters"]]
    output.table(None, ["cluster", "faces", "face ids"], rows)


@gallery.command()
@click.argument("name")
@click.argument("subject")
@click.argument("face_ids", nargs=-1, required=True)
@click.pass_context
def assign(ctx: click.Context, name: str, subject: str, face_ids: tuple[str, ...]) -> None:
    """Name faces (e.g. one cluster's) SUBJECT."""
    body = {"gallery": name, "subject": subject, "face_ids": list(face_ids)}
    with _client(ctx) as client:
        output.emit_json(client.post("/gallery/assign", body))
