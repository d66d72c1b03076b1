"""``python -m models ensure``: before ``make serve`` (and a container's start), make sure the
store has the models: those already there (or packed in the Bento) stay, a pack in
MODEL_PATH is imported, and what is still missing is pulled unless ``MODELS_AUTO_PULL=0``.

Without network it says so once and falls back within seconds: a short probe (its own
connect timeout, bounded as a whole so a hanging DNS lookup cannot stall the start) runs
before each download, and the service then starts with what the store has (the dlib engine
when there is no InsightFace pack, loudly). A failed download leaves the store unchanged
(``pull`` stores atomically) and never stops the start: the exit code is 1 only for a broken
pack in MODEL_PATH or an invalid setting, both said in one line before anything is fetched.

A CLIP entry in the store's format from before the ONNX export (a torch checkpoint) is
converted here where torch and open_clip are installed (models/clip_convert.py); elsewhere it
is said once, with the command to run, and the start goes on.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shlex
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from models import ModelProvisioningError
from models.commands.common import report
from models.fer import ensure_fer
from models.store import CLIP_MODEL_NAME, FACE_MODEL_NAME

if TYPE_CHECKING:
    import bentoml

    from facereid.config import Settings

PullStep = Callable[[argparse.Namespace, Path], "bentoml.Model"]

LICENSE_NOTE = (
    "InsightFace's public packs ({pack}) are for non-commercial research use unless the pack "
    "carries a signed MODEL.LICENSE that grants more; the terms found are printed once it is "
    "stored (docs/models.md)"
)


def _packed_in_bento(name: str, bento_path: str | None) -> bool:
    """BentoML images serve from the Bento's own store when it has models (BENTO_PATH)."""
    if not bento_path:
        return False
    folder = Path(bento_path) / "models" / name
    return folder.is_dir() and any(folder.glob("*/model.yaml"))


def _present(name: str, settings: Settings) -> bool:
    from models.store import find_model, model_labels

    stored = find_model(name)
    if stored is not None:
        print(f"{stored.tag} is in the store (source={model_labels(stored).get('source')})")
        return True
    if _packed_in_bento(name, settings.bento_path):
        print(f"{name} is packed in the Bento at {settings.bento_path}")
        return True
    return False


def _import_model_path() -> bool:
    """Import the pack in MODEL_PATH, as before auto-pull: local files beat the network."""
    from models.importer import default_model_path, find_pack_root, import_face_pack

    model_path = default_model_path()
    root = find_pack_root(model_path)
    if root is None:
        return False
    fix = f"fix or remove the files in MODEL_PATH={model_path}, or `python -m models pull`"
    report(import_face_pack(root, source="imported", pack_name=root.name, fix=fix))
    return True


def _pull_args(settings: Settings) -> argparse.Namespace:
    """The options of `python -m models pull` (its defaults, so flags added there apply
    here too) plus MODELS_PULL_ARGS; the progress bar only on a terminal."""
    from models.cli import build_parser

    said = io.StringIO()
    try:
        extra = shlex.split(settings.models_pull_args)
        if not sys.stderr.isatty():
            extra.append("--no-progress")
        with contextlib.redirect_stderr(said):  # argparse's usage text: ours is one line
            return build_parser().parse_args(["pull", *extra])
    except (ValueError, SystemExit) as exc:  # an unclosed quote; an option pull rejects
        why = str(exc) if isinstance(exc, ValueError) else said.getvalue().strip()
        raise ModelProvisioningError(
            f"MODELS_PULL_ARGS={settings.models_pull_args!r} is not valid for "
            f"`python -m models pull` ({why.splitlines()[-1] if why else 'rejected'}); "
            f"fix or unset it"
        ) from None


def _urls(args: argparse.Namespace) -> dict[str, str | None]:
    from models.packs import clip_checkpoint, clip_url, insightface_url
    from models.store import CLIP_MODEL_NAME, FACE_MODEL_NAME

    checkpoint = clip_checkpoint(args.clip_model, args.clip_pretrained)
    return {
        FACE_MODEL_NAME: insightface_url(args.pack, args.base_url),
        CLIP_MODEL_NAME: clip_url(checkpoint, args.clip_base_url),
    }


def unreachable(url: str, timeout_s: float) -> str | None:
    """None when the server answers at all (any status) within ``timeout_s``, else why not.

    A HEAD without redirects: no body to stop, and the first host answering is the question.
    The whole probe runs in a daemon thread joined with a deadline, because requests' timeout
    covers connecting and reading but not the DNS lookup.
    """
    import requests

    outcome: list[str | None] = []

    def attempt() -> None:
        try:
            requests.head(url, timeout=timeout_s, allow_redirects=False).close()
            outcome.append(None)
        except Exception as exc:  # any failure means "do not try": name it, never raise
            outcome.append(type(exc).__name__)

    thread = threading.Thread(target=attempt, name="models-probe", daemon=True)
    thread.start()
    deadline_s = 2 * timeout_s + 1  # connect + first byte, and a lookup's share
    thread.join(deadline_s)
    return outcome[0] if outcome else f"no answer within {deadline_s:g} s"


def _auto_pull(missing: list[str], settings: Settings) -> None:
    from models.commands.pull import _pull_clip, _pull_insightface
    from models.store import CLIP_MODEL_NAME, FACE_MODEL_NAME, store_tmp_dir

    args = _pull_args(settings)
    urls = _urls(args)
    steps: dict[str, PullStep] = {FACE_MODEL_NAME: _pull_insightface, CLIP_MODEL_NAME: _pull_clip}
    downloads = store_tmp_dir() / "downloads"
    for name in missing:
        url = urls.get(name)
        if url is None:
            print(f"auto-pull: no download URL is known for {name}; skipped")
            continue
        why = unreachable(url, settings.models_connect_timeout_s)
        if why is not None:
            # One message for the whole start: the other downloads would only wait again.
            print(
                f"auto-pull: cannot reach {urlsplit(url).netloc} ({why}; connect timeout "
                f"{settings.models_connect_timeout_s:g} s), so nothing is downloaded; starting "
                f"with the models at hand (`python -m models pull` or `import` adds them later)"
            )
            return
        if name == FACE_MODEL_NAME:
            print(LICENSE_NOTE.format(pack=args.pack))
        print(f"auto-pull: downloading {name} from {url}", flush=True)
        try:
            report(steps[name](args, downloads))
        except ModelProvisioningError as exc:
            print(f"auto-pull: {name} was not stored: {exc.message}")


def _fill(missing: list[str], packed: list[str], settings: Settings) -> None:
    """Import MODEL_PATH, then pull what is still missing (unless switched off)."""
    from models.store import FACE_MODEL_NAME

    if packed:
        # BentoML serves a Bento with packed models from its own store alone: models added
        # to BENTOML_HOME now would never be seen, so none are fetched.
        print(
            f"the Bento at {settings.bento_path} packs {', '.join(packed)} but not "
            f"{', '.join(missing)}, and serves from its own store: nothing is pulled; rebuild "
            f"the Bento (`make bento`) with all models in the store"
        )
        return
    if FACE_MODEL_NAME in missing and _import_model_path():
        missing = [name for name in missing if name != FACE_MODEL_NAME]
    if missing and settings.models_auto_pull:
        _auto_pull(missing, settings)
    elif missing:
        print(f"MODELS_AUTO_PULL=0: not downloading {', '.join(missing)}")


def cmd_ensure(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from facereid.config import Settings
    from models.store import find_model

    try:
        settings = Settings()  # read now, not the cached copy: the CLI runs once per process
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"]).upper()
        raise ModelProvisioningError(
            f"setting {name} is not valid ({first['msg']}); fix or unset it"
        ) from None
    names = (FACE_MODEL_NAME, CLIP_MODEL_NAME)
    missing = [name for name in names if not _present(name, settings)]
    stored_clip = find_model(CLIP_MODEL_NAME)
    if stored_clip is not None:
        from models.clip_convert import ensure_clip_format

        if (why := ensure_clip_format(stored_clip, print)) is not None:
            print(why)
    if missing:
        _fill(
            missing,
            [name for name in names if _packed_in_bento(name, settings.bento_path)],
            settings,
        )

    if FACE_MODEL_NAME in missing and find_model(FACE_MODEL_NAME) is None:
        print(
            f"!!! NO INSIGHTFACE MODEL: {FACE_MODEL_NAME} is not in the store and "
            f"MODEL_PATH={settings.model_path} has no .onnx files, so the service will use the "
            f"dlib engine (real weights from PyPI); run `python -m models pull` for InsightFace !!!"
        )
    if CLIP_MODEL_NAME in missing and find_model(CLIP_MODEL_NAME) is None:
        print(
            f"note: no {CLIP_MODEL_NAME} model in the store; emotions come from fer's model "
            f"(EMOTION_ENGINE=auto; `python -m models pull` adds CLIP)"
        )
    _ensure_fer(settings)
    return 0


def _ensure_fer(settings: Settings) -> None:
    """fer's emotion model, converted offline from the installed wheel when missing: the
    emotion engine when there is no CLIP (EMOTION_ENGINE=auto). Not into BENTOML_HOME when a
    Bento with packed models serves from its own store (it would never be seen)."""
    from models.store import FER_MODEL_NAME

    if _present(FER_MODEL_NAME, settings):
        return
    if any(
        _packed_in_bento(name, settings.bento_path) for name in (FACE_MODEL_NAME, CLIP_MODEL_NAME)
    ):
        print(f"the Bento at {settings.bento_path} does not pack {FER_MODEL_NAME}; not stored")
        return
    print(ensure_fer())
