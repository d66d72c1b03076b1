"""``python -m models list``: the models in the store, one row each."""

from __future__ import annotations

import argparse


def cmd_list(args: argparse.Namespace) -> int:
    from models.store import bentoml_home, list_models

    rows = list_models()
    if not rows:
        print(f"no models in {bentoml_home() / 'models'}; run `python -m models pull` or synth")
        return 0
    header = ("NAME", "TAG", "SOURCE", "PACK", "DIM", "LICENSE", "SIZE")
    table = [header] + [
        (r.name, r.tag, r.source, r.pack, r.embedding_dim, r.license, r.size) for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0
