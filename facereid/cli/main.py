"""``facereid``: the command-line client (docs/console.md). click for the commands, httpx for
HTTP, rich for tables and the progress bar.

Every command talks to one server (``--url`` or ``FACEREID_URL``, default
http://127.0.0.1:3000) with an optional key (``--api-key`` or ``FACEREID_API_KEY``); these
and ``--json``/``--timeout`` may stand before or after the command. Our error messages are
shown as the API wrote them, ``code: message`` on stderr, and the exit code says what kind of
failure it was.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from facereid.cli import output
from facereid.cli.calibrate import calibrate
from facereid.cli.client import (
    EXIT_JOB_FAILED,
    EXIT_NOT_FOUND,
    EXIT_REJECTED,
    ApiClient,
    CliError,
    image_b64,
)
from facereid.cli.gallery import gallery
from facereid.cli.global_options import accept_after_command
from facereid.cli.privacy import audit, erase_tenant

# Same-person cosine thresholds per embedding model family; the server's own table for video
# identities is facereid/video/identities.py (not imported: it pulls in the tracker).
SAME_PERSON = {"dlib": 0.91, "insightface": 0.45}
FINAL_STATES = ("completed", "failed", "cancelled")

FilePath = click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)


@dataclass
class Options:
    url: str
    api_key: str | None
    as_json: bool
    timeout_s: float

    def client(self) -> ApiClient:
        return ApiClient(self.url, self.api_key, self.timeout_s)


def same_person_threshold(embedding_model: str) -> float:
    family = embedding_model.split("/", 1)[0]
    return SAME_PERSON.get(family, SAME_PERSON["insightface"])


class FaceReIDGroup(click.Group):
    """Turns a ``CliError`` into its message on stderr and its exit code. The group's options
    are also accepted after the command (``facereid.cli.global_options``)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CliError as exc:
            output.warn(f"error: {exc.code}: {exc.message}")
            ctx.exit(exc.exit_code)


EXIT_CODES = (
    "Exit codes: 0 done; 1 input refused (4xx); 2 usage; 3 server unreachable or timed out; "
    "4 missing or wrong API key (401); 5 server error (5xx); 6 video job failed or cancelled; "
    "7 not found (404: job, gallery, route)."
)


@click.group(
    cls=FaceReIDGroup, epilog=EXIT_CODES, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.option(
    "--url",
    envvar="FACEREID_URL",
    default="http://127.0.0.1:3000",
    show_default=True,
    help="The API. Or FACEREID_URL.",
)
@click.option("--api-key", envvar="FACEREID_API_KEY", help="Or FACEREID_API_KEY.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON, not tables.")
@click.option("--timeout", "timeout_s", default=120.0, show_default=True, help="Seconds per call.")
@click.pass_context
def cli(ctx: click.Context, url: str, api_key: str | None, as_json: bool, timeout_s: float) -> None:
    """Face re-identification from the command line."""
    ctx.obj = Options(url, api_key, as_json, timeout_s)


@cli.command()
@click.argument("images", nargs=-1, required=True, type=FilePath)
@click.option("--emotions/--no-emotions", default=True, help="Score emotions (CLIP).")
@click.option("--attributes", is_flag=True, help="Age, gender and head pose per face.")
@click.pass_obj
def analyze(options: Options, images: tuple[Path, ...], emotions: bool, attributes: bool) -> None:
    """Every face in each image: box, confidence, landmarks, emotion, quality (and with
    --attributes age, gender and pose).

    All images are tried; the exit code is that of the last failure (0 when none failed)."""
    results: list[dict[str, Any]] = []
    failure: CliError | None = None
    with options.client() as client:
        for path in images:
            body = {"image_data": image_b64(path), "return_all_faces": True}
            body["include_emotions"] = emotions
            if attributes:
                body["include_attributes"] = True
            try:
                answer = client.post("/analyze", body)
            except CliError as exc:
                if exc.exit_code not in (EXIT_REJECTED, EXIT_NOT_FOUND):  # key, server: stop
                    raise
                output.warn(f"{path}: error: {exc.code}: {exc.message}")
                results.append(
                    {"image": str(path), "error": {"code": exc.code, "message": exc.message}}
                )
                failure = exc
                continue
            results.append({"image": str(path), **answer})
    if options.as_json:
        output.emit_json(results)
    else:
        rows = [
            (
                r["image"],
                n + 1,
                output.box(f["bbox"]),
                f"{f['confidence']:.3f}",
                len(f["landmarks"]),
                output.dominant(f.get("emotions")),
                output.quality(f.get("quality")),
                *((output.attributes(f.get("attributes")),) if attributes else ()),
            )
            for r in results
            if "error" not in r
            for n, f in enumerate(r.get("faces") or [r])
        ]
        headers = ["image", "face", "box x,y,w,h", "confidence", "landmarks", "emotion", "quality"]
        output.table(None, headers + (["attributes"] if attributes else []), rows)
        scored_by = {
            f["emotion_model"]
            for r in results
            if "error" not in r
            for f in r.get("faces") or [r]
            if f.get("emotion_model")
        }
        if scored_by:  # which engine's model: fer's seven classes or CLIP's labels
            output.say(f"emotion model: {', '.join(sorted(scored_by))}")
    if failure is not None:
        raise click.exceptions.Exit(failure.exit_code)


@cli.command()
@click.argument("first", type=FilePath)
@click.argument("second", type=FilePath)
@click.option("--threshold", type=float, help="Same-person cosine (default: per model).")
@click.option(
    "--operating-point", help="A calibrated point such as fmr_1e-3 (docs/calibration.md)."
)
@click.pass_obj
def compare(
    options: Options,
    first: Path,
    second: Path,
    threshold: float | None,
    operating_point: str | None,
) -> None:
    """The largest face of two photos: similarity and the model's verdict."""
    with options.client() as client:
        faces = [
            client.post("/analyze", {"image_data": image_b64(p), "include_emotions": False})
            for p in (first, second)
        ]
        answer = client.post(
            "/compare",
            {
                "face1_embedding": faces[0]["embedding"],
                "face2_embedding": faces[1]["embedding"],
                "face1_model": faces[0]["embedding_model"],
                "face2_model": faces[1]["embedding_model"],
                **({"operating_point": operating_point} if operating_point else {}),
            },
        )
    model = faces[0]["embedding_model"]
    cut = threshold if threshold is not None else same_person_threshold(model)
    if operating_point:  # the server's calibrated threshold (issue 24)
        cut = float(answer["threshold"])
    similarity = float(answer["similarity"])
    verdict = {
        "similarity": similarity,
        "threshold": cut,
        "same_person": similarity >= cut,
        "embedding_model": model,
        "faces": [
            {"image": str(p), "bbox": f["bbox"], "num_faces": f["num_faces"]}
            for p, f in zip((first, second), faces, strict=True)
        ],
    }
    point = ""
    if operating_point:
        verdict["operating_point"] = operating_point
        point = f", operating point {operating_point}"
    if options.as_json:
        output.emit_json(verdict)
        return
    word = "same person" if verdict["same_person"] else "different people"
    output.say(f"{word}: similarity {similarity:.3f} (threshold {cut} for {model}{point})")


@cli.command()
@click.argument("file", type=FilePath)
@click.option("--sample-fps", type=float, help="Frames analysed per second of video.")
@click.option("--gallery", "gallery_name", help="Name identities from this gallery.")
@click.option("--emotions/--no-emotions", default=True)
@click.option("--wait", is_flag=True, help="Follow the job with a progress bar; print the result.")
@click.option("--poll", "poll_s", default=0.5, show_default=True, help="Seconds between checks.")
@click.pass_obj
def video(
    options: Options,
    file: Path,
    sample_fps: float | None,
    gallery_name: str | None,
    emotions: bool,
    wait: bool,
    poll_s: float,
) -> None:
    """Submit a video job; with --wait, follow it and print the identities."""
    form = {"include_emotions": str(emotions).lower()}
    if sample_fps is not None:
        form["sample_fps"] = str(sample_fps)
    if gallery_name:
        form["gallery"] = gallery_name
    with options.client() as client:
        status = client.upload("/video/submit", "video", file, form)
        if not wait:
            if options.as_json:
                output.emit_json(status)
            else:
                output.say(f"job {status['job_id']} {status['status']}")
            return
        status = follow(client, status, poll_s, show=not options.as_json)
        if status["status"] != "completed":
            error = status.get("error") or {}
            raise CliError(
                str(error.get("code", status["status"])),
                str(error.get("message", f"job {status['job_id']} {status['status']}")),
                EXIT_JOB_FAILED,
            )
        result = client.post("/video/result", {"job_id": status["job_id"]})
    show_identities(options, result)


def follow(client: ApiClient, status: dict[str, Any], poll_s: float, show: bool) -> dict[str, Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("frames"),
    )
    with Progress(*columns, console=output.stderr, disable=not show, transient=False) as bar:
        task = bar.add_task(status["status"], total=None)
        while status["status"] not in FINAL_STATES:
            progress = status.get("progress") or {}
            bar.update(
                task,
                description=status["status"],
                completed=progress.get("frames_done", 0),
                total=progress.get("frames_total"),
            )
            time.sleep(poll_s)
            status = client.post("/video/status", {"job_id": status["job_id"]})
        done = (status.get("progress") or {}).get("frames_done", 0)
        bar.update(task, description=status["status"], completed=done, total=max(done, 1))
    return status


def show_identities(options: Options, result: dict[str, Any]) -> None:
    if options.as_json:
        output.emit_json(result)
        return
    rows = []
    for identity in result["identities"]:
        who = identity.get("subject") or f"person {identity['identity_id'] + 1}"
        segments = " ".join(f"{s['start_s']:.1f}-{s['end_s']:.1f}" for s in identity["segments"])
        rows.append((who, identity["face_count"], segments, identity.get("dominant_emotion")))
    title = (
        f"{result['num_identities']} people in {result['frames_sampled']} sampled frames "
        f"({result['embedding_model']})"
    )
    output.table(title, ["identity", "faces", "seen (s)", "emotion"], rows)


@cli.group()
def job() -> None:
    """A video job by its id: status, result, cancel."""


@job.command("status")
@click.argument("job_id")
@click.pass_obj
def job_status(options: Options, job_id: str) -> None:
    with options.client() as client:
        output.emit_json(client.post("/video/status", {"job_id": job_id}))


@job.command("result")
@click.argument("job_id")
@click.pass_obj
def job_result(options: Options, job_id: str) -> None:
    with options.client() as client:
        show_identities(options, client.post("/video/result", {"job_id": job_id}))


@job.command("cancel")
@click.argument("job_id")
@click.pass_obj
def job_cancel(options: Options, job_id: str) -> None:
    with options.client() as client:
        output.emit_json(client.post("/video/cancel", {"job_id": job_id}))


cli.add_command(gallery)
cli.add_command(calibrate)
cli.add_command(audit)
cli.add_command(erase_tenant)
accept_after_command(cli)


def main() -> None:
    cli(prog_name="facereid")
