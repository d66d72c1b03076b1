"""``python -m models import``: store models from local files (air-gapped installs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from models import ModelProvisioningError
from models.commands.common import report, work_dir


def cmd_import(args: argparse.Namespace) -> int:
    from models.importer import (
        IMPORT_HINT,
        default_model_path,
        find_pack_root,
        import_clip_checkpoint,
        import_face_pack,
        stage_face_source,
    )

    face_source = Path(args.insightface_dir) if args.insightface_dir else None
    if face_source is None and not args.clip_checkpoint:
        model_path = default_model_path()
        if find_pack_root(model_path) is None:
            raise ModelProvisioningError(
                f"nothing to import: MODEL_PATH={model_path} holds no .onnx files; pass "
                f"--insightface-dir DIR_OR_ZIP and/or --clip-checkpoint FILE"
            )
        face_source = model_path
    with work_dir() as work:
        if face_source is not None:
            root = stage_face_source(face_source, Path(work), IMPORT_HINT)
            stem = face_source.stem if face_source.is_file() else root.name
            pack_name = args.pack_name or stem
            report(import_face_pack(root, source="imported", pack_name=pack_name))
        if args.clip_checkpoint:
            model = import_clip_checkpoint(
                Path(args.clip_checkpoint),
                Path(work),
                model_name=args.clip_model,
                pretrained=args.clip_pretrained,
                config_file=Path(args.clip_config) if args.clip_config else None,
                source="imported",
                fix="re-run `python -m models import --clip-checkpoint FILE` with a complete file",
            )
            report(model)
    return 0
