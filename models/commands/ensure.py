"""``python -m models ensure``: make sure ``make serve`` has a face model (import MODEL_PATH or
say loudly that the dlib engine will answer)."""

from __future__ import annotations

import argparse

from models.commands.common import report


def cmd_ensure(args: argparse.Namespace) -> int:
    from models.importer import default_model_path, find_pack_root, import_face_pack
    from models.store import CLIP_MODEL_NAME, FACE_MODEL_NAME, find_model, model_labels

    existing = find_model(FACE_MODEL_NAME)
    if existing is not None:
        print(f"{existing.tag} is in the store (source={model_labels(existing).get('source')})")
    else:
        model_path = default_model_path()
        root = find_pack_root(model_path)
        if root is not None:
            fix = f"fix or remove the files in MODEL_PATH={model_path}, or `python -m models pull`"
            report(import_face_pack(root, source="imported", pack_name=root.name, fix=fix))
        else:
            print(
                f"!!! NO INSIGHTFACE MODEL: {FACE_MODEL_NAME} is not in the store and "
                f"MODEL_PATH={model_path} has no .onnx files, so the service will use the dlib "
                f"engine (real weights from PyPI); run `python -m models pull` for InsightFace !!!"
            )
    if find_model(CLIP_MODEL_NAME) is None:
        print(
            f"note: no {CLIP_MODEL_NAME} model in the store; emotions need `python -m models pull`"
        )
    return 0
