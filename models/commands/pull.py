"""``python -m models pull``: download, verify and store the real InsightFace pack and CLIP."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models import ModelProvisioningError
from models.commands.common import PULL_HINT, report, work_dir

if TYPE_CHECKING:
    import bentoml


def _download_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "progress": not args.no_progress,
        "allow_http": args.allow_http,
        "max_bytes": int(args.max_download_mb * 1024 * 1024),
    }


def _pull_insightface(args: argparse.Namespace, downloads: Path) -> bentoml.Model:
    from models.importer import import_face_pack, stage_face_source
    from models.packs import insightface_pack, insightface_url
    from models.pull import download

    pack = insightface_pack(args.pack)
    url = insightface_url(args.pack, args.base_url)
    expected = args.insightface_sha256 or (pack.archive_sha256 if pack else None)
    archive = downloads / f"{args.pack}.zip"
    digest = download(url, archive, expected_sha256=expected, **_download_options(args))
    try:
        with work_dir() as work:
            root = stage_face_source(archive, Path(work), PULL_HINT)
            extra: dict[str, object] = {
                "source_url": url,
                "archive_sha256": digest,
                "checksum_verified": expected is not None,
            }
            return import_face_pack(
                root, source="pulled", pack_name=args.pack, fix=PULL_HINT, extra_metadata=extra
            )
    finally:
        archive.unlink(missing_ok=True)  # complete (verified or rejected): never resumed


def _pull_clip(args: argparse.Namespace, downloads: Path) -> bentoml.Model:
    from models.importer import import_clip_checkpoint
    from models.packs import clip_checkpoint, clip_url
    from models.pull import download
    from models.validate import clip_config

    config_file = Path(args.clip_config) if args.clip_config else None
    clip_config(args.clip_model, args.clip_pretrained, config_file)  # fail before downloading
    known = clip_checkpoint(args.clip_model, args.clip_pretrained)
    url = clip_url(known, args.clip_base_url)
    if url is None:
        raise ModelProvisioningError(
            f"no download URL is known for {args.clip_model}/{args.clip_pretrained}; pass "
            f"--clip-base-url or use `python -m models import --clip-checkpoint FILE`"
        )
    expected = args.clip_sha256 or (known.sha256 if known else None)
    checkpoint = downloads / f"clip-{args.clip_model}-{args.clip_pretrained}.bin".replace("/", "_")
    digest = download(url, checkpoint, expected_sha256=expected, **_download_options(args))
    try:
        with work_dir() as work:
            extra: dict[str, object] = {
                "source_url": url,
                "checkpoint_sha256": digest,
                "checksum_verified": expected is not None,
            }
            return import_clip_checkpoint(
                checkpoint,
                Path(work),
                model_name=args.clip_model,
                pretrained=args.clip_pretrained,
                config_file=config_file,
                source="pulled",
                fix=PULL_HINT,
                extra_metadata=extra,
            )
    finally:
        checkpoint.unlink(missing_ok=True)


def cmd_pull(args: argparse.Namespace) -> int:
    from models.store import store_tmp_dir

    downloads = store_tmp_dir() / "downloads"
    if not args.skip_insightface:
        report(_pull_insightface(args, downloads))
    if not args.skip_clip:
        report(_pull_clip(args, downloads))
    return 0
