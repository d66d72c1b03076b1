"""``python -m models pull|import|synth|list|ensure``: provision models into the BentoML store.

Every failure prints one sentence (what is wrong, which command fixes it) and exits 1.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models import ModelProvisioningError
from models.packs import DEFAULT_CLIP_MODEL, DEFAULT_CLIP_PRETRAINED, DEFAULT_PACK

if TYPE_CHECKING:
    import bentoml

logger = logging.getLogger(__name__)

PULL_HINT = "re-run `python -m models pull`"


def _work_dir() -> tempfile.TemporaryDirectory[str]:
    from models.store import store_tmp_dir

    return tempfile.TemporaryDirectory(prefix="stage-", dir=store_tmp_dir())


def _report(model: bentoml.Model) -> None:
    from models.store import license_terms, model_labels, model_metadata

    labels = model_labels(model)
    meta = model_metadata(model)
    print(f"stored {model.tag} (source={labels.get('source')}, pack={labels.get('pack')})")
    if "license" in meta:
        message = meta["license"].get("message", "")
        print(f"  license terms: {license_terms(meta)} - {message}")
    if meta.get("checksum_verified") is False:
        print(f"  sha256 {meta.get('archive_sha256')} recorded (no published checksum known)")


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
        with _work_dir() as work:
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
        with _work_dir() as work:
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
        _report(_pull_insightface(args, downloads))
    if not args.skip_clip:
        _report(_pull_clip(args, downloads))
    return 0


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
    with _work_dir() as work:
        if face_source is not None:
            root = stage_face_source(face_source, Path(work), IMPORT_HINT)
            stem = face_source.stem if face_source.is_file() else root.name
            pack_name = args.pack_name or stem
            _report(import_face_pack(root, source="imported", pack_name=pack_name))
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
            _report(model)
    return 0


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
        with _work_dir() as work:
            write_insightface_pack(Path(work), seed=args.seed, profile=args.profile)
            _report(
                import_face_pack(
                    Path(work), source="synthetic", pack_name=pack, fix=fix, extra_metadata=extra
                )
            )
    if args.if_missing and (existing := find_model(CLIP_MODEL_NAME)) is not None:
        print(f"{existing.tag} already in the store; skipping the synthetic CLIP model")
    else:
        with _work_dir() as work:
            info = write_clip_pack(Path(work), seed=args.seed, profile=args.profile)
            labels = {
                "source": "synthetic",
                "model": str(info.get("model_name") or "synthetic"),
                "pretrained": str(info.get("pretrained") or "none"),
                "pack": pack,
            }
            checkpoint = str(info.get("checkpoint_file") or find_checkpoint(Path(work)))
            _report(
                save_clip_dir(Path(work), checkpoint, labels=labels, fix=fix, extra_metadata=extra)
            )
    return 0


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
            _report(import_face_pack(root, source="imported", pack_name=root.name, fix=fix))
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m models", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log details, tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    pull = sub.add_parser("pull", help="download, verify and store the real models")
    pull.add_argument("--pack", default=DEFAULT_PACK)
    pull.add_argument(
        "--base-url", help="InsightFace release URL (env FACEREID_INSIGHTFACE_BASE_URL)"
    )
    pull.add_argument("--insightface-sha256", help="expected sha256 of the pack zip")
    pull.add_argument("--clip-model", default=DEFAULT_CLIP_MODEL)
    pull.add_argument("--clip-pretrained", default=DEFAULT_CLIP_PRETRAINED)
    pull.add_argument("--clip-base-url", help="checkpoint folder URL (env FACEREID_CLIP_BASE_URL)")
    pull.add_argument("--clip-sha256", help="expected sha256 of the checkpoint")
    pull.add_argument("--clip-config", help="open_clip model config JSON for a custom model")
    pull.add_argument("--no-progress", action="store_true")
    pull.add_argument(
        "--allow-http", action="store_true", help="allow plain http:// (a trusted local mirror)"
    )
    pull.add_argument(
        "--max-download-mb", type=float, default=4096, help="refuse larger downloads (MiB)"
    )
    skip = pull.add_mutually_exclusive_group()
    skip.add_argument("--skip-clip", action="store_true")
    skip.add_argument("--skip-insightface", action="store_true")
    pull.set_defaults(handler=cmd_pull)

    imp = sub.add_parser("import", help="store models from local files (air-gapped)")
    imp.add_argument("--insightface-dir", help="pack folder or zip (default: MODEL_PATH)")
    imp.add_argument("--pack-name")
    imp.add_argument("--clip-checkpoint")
    imp.add_argument("--clip-model", default=DEFAULT_CLIP_MODEL)
    imp.add_argument("--clip-pretrained")
    imp.add_argument("--clip-config", help="open_clip model config JSON for a custom model")
    imp.set_defaults(handler=cmd_import)

    synth = sub.add_parser("synth", help="store synthetic stand-in models")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--profile", choices=("tiny", "realistic"), default="tiny")
    synth.add_argument("--if-missing", action="store_true")
    synth.set_defaults(handler=cmd_synth)

    sub.add_parser("list", help="show the models in the store").set_defaults(handler=cmd_list)
    ensure = sub.add_parser("ensure", help="make sure `make serve` has a face model")
    ensure.set_defaults(handler=cmd_ensure)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.handler(args))
    except ModelProvisioningError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
    except KeyboardInterrupt:
        print("interrupted; nothing was stored, re-run the command", file=sys.stderr)
        return 130
    except Exception as exc:  # the CLI never shows a traceback unless asked
        logger.debug("unexpected failure", exc_info=True)
        if args.verbose:
            logger.exception("unexpected failure")
        print(f"error: {type(exc).__name__}: {exc}; re-run with -v for details", file=sys.stderr)
    return 1
