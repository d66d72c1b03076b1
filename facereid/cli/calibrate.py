"""``facereid calibrate FOLDER``: operating points measured with the server's own engine
(issue 24; the maths is facereid/matching/calibration.py).

FOLDER holds one sub-folder per person with that person's photos (``person/*.jpg``). Each
photo's largest face is embedded by the server (/analyze), so the points belong to the model
the server runs (its ``embedding_model``). The JSON written is what
``MATCH_OPERATING_POINTS_FILE`` loads; the ROC plot needs matplotlib.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import numpy as np

from facereid.cli import output
from facereid.cli.client import EXIT_NOT_FOUND, EXIT_REJECTED, CliError, image_b64
from facereid.matching import calibration

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


def photos_by_person(folder: Path) -> dict[str, list[Path]]:
    people = {
        d.name: sorted(p for p in d.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
        for d in sorted(folder.iterdir())
        if d.is_dir()
    }
    return {name: paths for name, paths in people.items() if paths}


def write_roc(path: Path, genuine: np.ndarray, impostor: np.ndarray, model: dict[str, Any]) -> str:
    """The ROC as a PNG; a sentence instead when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no ROC plot written"
    fmr, tmr = calibration.roc_points(genuine, impostor)
    floor = model["min_claimable_fmr"]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.step(np.maximum(fmr, 1e-5), tmr, where="post", label="ROC")
    ax.axvline(floor, color="grey", linestyle="--", label=f"3/N = {floor:.2g}")
    ax.set_xscale("log")
    ax.set_xlim(1e-5, 1)
    ax.set_xlabel("false match rate")
    ax.set_ylabel("true match rate (1 - FNMR)")
    ax.set_title(
        f"{model['embedding_model']}: {model['impostor_pairs']} impostor pairs", fontsize=9
    )
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
    return f"ROC plot: {path}"


@click.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("operating_points.json"),
    show_default=True,
    help="The JSON MATCH_OPERATING_POINTS_FILE loads.",
)
@click.option(
    "--roc",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("roc.png"),
    show_default=True,
    help="ROC plot (PNG).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@click.option("--bootstrap", type=click.IntRange(10, 100_000), default=1000, show_default=True)
@click.pass_obj
def calibrate(options: Any, folder: Path, out: Path, roc: Path, seed: int, bootstrap: int) -> None:
    """Genuine/impostor scores of FOLDER (person/*.jpg) and thresholds at FMR 1e-2..1e-4."""
    people = photos_by_person(folder)
    if len(people) < 2:
        raise CliError("invalid_folder", f"{folder} needs two or more person folders", 2)
    vectors: dict[str, list[list[float]]] = {}
    models = set()
    with options.client() as client:
        for name, paths in people.items():
            for path in paths:
                body = {"image_data": image_b64(path), "include_emotions": False}
                try:
                    face = client.post("/analyze", body)
                except CliError as exc:
                    if exc.exit_code not in (EXIT_REJECTED, EXIT_NOT_FOUND):  # key, server
                        raise
                    output.warn(f"{path}: skipped: {exc.code}: {exc.message}")
                    continue
                vectors.setdefault(name, []).append(face["embedding"])
                models.add(face["embedding_model"])
    if len(models) != 1:
        raise CliError("invalid_folder", f"expected one embedding model, got {sorted(models)}", 2)
    genuine, impostor = calibration.pair_scores(vectors)
    try:
        model = calibration.operating_points(genuine, impostor, seed=seed, bootstrap=bootstrap)
    except ValueError as exc:
        raise CliError("invalid_folder", str(exc), 2) from exc
    model_id = models.pop()
    model = {
        "embedding_model": model_id,
        "people": len(vectors),
        "images": sum(len(v) for v in vectors.values()),
        **model,
    }
    model["note"] = calibration.limits_note(model)
    document = {"format": calibration.FORMAT, "models": {model_id: model}}
    out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    plot = write_roc(roc, genuine, impostor, model)
    if options.as_json:
        output.emit_json(document)
        return
    rows = [
        (
            name,
            f"{p['threshold']:.4f}",
            f"{p['fmr']:.4f}",
            f"{p['fnmr']:.4f} [{p['fnmr_ci95'][0]:.3f}, {p['fnmr_ci95'][1]:.3f}]",
            f"[{p['threshold_ci95'][0]:.4f}, {p['threshold_ci95'][1]:.4f}]",
            "yes" if p["claimable"] else "no",
        )
        for name, p in model["operating_points"].items()
    ]
    output.table(
        model_id,
        ["point", "threshold", "FMR", "FNMR [95%]", "threshold [95%]", "claimable"],
        rows,
    )
    output.say(model["note"])
    output.say(f"operating points: {out}; {plot}")
