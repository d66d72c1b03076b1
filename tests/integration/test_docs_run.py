"""The docs run (issue 23): every fenced shell or Python example in README.md and docs/*.md is
executed, as written, against a real server, or is marked as not run, with a reason.

The convention, for whoever writes docs: a fence always names its language (``text`` for
trees and diagrams). A ``bash``/``sh``/``python`` block runs here unless the line just above
its fence is ``<!-- not run: why -->`` (it needs a cluster, a registry, the network, or serves
until stopped). A block runs in a folder holding the file names the docs use (``photo.jpg``,
``a.jpg``, ``clip.mp4``, ``unknown/*.jpg``, ...: real photos and a synthetic video), with the
repo's ``.venv`` beside it and the docs' ``http://127.0.0.1:3000`` pointed at the test server.
A block passes when it exits 0 and prints no error body.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import SHARED_FACES
from tests.harness import REPO_ROOT, Server
from tests.video_builder import t1_scenario, write_video

pytestmark = pytest.mark.slow

RUNNABLE = {"bash": "bash", "sh": "bash", "shell": "bash", "python": "python"}
DOCUMENTED_URL = "http://127.0.0.1:3000"
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w-]*)\s*$")
NOT_RUN = re.compile(r"^\s*<!-- not run: (?P<why>.*\S.*) -->\s*$")
BLOCK_TIMEOUT_S = 240


@dataclass(frozen=True)
class Block:
    file: str
    line: int
    lang: str
    code: str
    not_run: str | None

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}"


def fenced_blocks(path: Path, root: Path = REPO_ROOT) -> list[Block]:
    lines = path.read_text().split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent, start = opening["indent"], i
        i += 1
        while i < len(lines) and lines[i].rstrip() != f"{indent}```":
            i += 1
        body = [line.removeprefix(indent) for line in lines[start + 1 : i]]
        marker = NOT_RUN.match(lines[start - 1]) if start else None
        name = str(path.relative_to(root))
        why = marker["why"] if marker else None
        blocks.append(Block(name, start + 1, opening["lang"], "\n".join(body), why))
        i += 1
    return blocks


DOCS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
BLOCKS = [block for path in DOCS for block in fenced_blocks(path)]
TO_RUN = [b for b in BLOCKS if b.lang in RUNNABLE and b.not_run is None]


def test_every_fence_names_its_language_and_markers_give_a_reason() -> None:
    untagged = [b.id for b in BLOCKS if not b.lang]
    assert not untagged, f"fences without a language (use ```text for notation): {untagged}"
    stray = [b.id for b in BLOCKS if b.not_run is not None and b.lang not in RUNNABLE]
    assert not stray, f"'not run' marks a block that would not run anyway: {stray}"
    assert len(TO_RUN) >= 6  # the examples of README, console, video and api docs


def test_the_parser_sees_markers_and_indented_fences(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Text\n<!-- not run: a cluster -->\n```bash\nkubectl apply\n```\n\n"
        "1. step\n   ```python\n   print(1)\n   ```\n```text\ntree\n```\n"
    )
    blocks = fenced_blocks(page, root=tmp_path)
    assert blocks[0].id == "page.md:3"
    assert [(b.lang, b.code, b.not_run) for b in blocks] == [
        ("bash", "kubectl apply", "a cluster"),
        ("python", "print(1)", None),
        ("text", "tree", None),
    ]


@pytest.fixture(scope="module")
def workdir(t1_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files the docs name, in one folder a user might run the examples from."""
    if not SHARED_FACES.is_dir():
        pytest.skip(f"the docs' photos come from {SHARED_FACES}, which is absent")
    root = tmp_path_factory.mktemp("docs-run")
    people = SHARED_FACES / "identities"
    with Image.open(t1_path) as image:  # six faces, and over the ~96 KB that once broke curl
        image.resize((image.width * 2, image.height * 2)).save(root / "photo.jpg", quality=95)
    copies = {
        "a.jpg": people / "obama" / "obama1.jpg",
        "b.jpg": people / "obama" / "obama2.jpg",
        "obama1.jpg": people / "obama" / "obama1.jpg",
        "query.jpg": people / "obama" / "obama3.jpg",
        "more/biden.jpg": people / "biden" / "biden.jpg",
        "more/rose.jpg": people / "rose_leslie" / "img1.jpg",
    }
    for person, photos in {
        "obama": ("obama1.jpg", "obama2.jpg"),
        "biden": ("biden.jpg", "biden2.jpg"),
    }.items():
        for photo in photos:  # `facereid calibrate people/`: person/*.jpg
            copies[f"people/{person}/{photo}"] = people / person / photo
    for number, kit in enumerate(sorted((people / "kit_harington").iterdir())):
        copies[f"unknown/kit{number}{kit.suffix}"] = kit
    for name, source in copies.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, root / name)
    write_video(root / "clip.mp4", t1_scenario(t1_path, t1_path.with_name("Tom_Hanks_54745.png")))
    (root / ".venv").symlink_to(REPO_ROOT / ".venv")
    return root


def run_block(block: Block, server: Server, cwd: Path) -> subprocess.CompletedProcess[str]:
    code = block.code.replace(DOCUMENTED_URL, server.url)
    env = {
        **os.environ,
        "PATH": f"{cwd / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(REPO_ROOT),  # `python -m models` outside the repo
        "FACEREID_URL": server.url,
        "BENTOML_HOME": str(cwd / "bentoml_home"),
        "HOME": str(cwd),
    }
    if RUNNABLE[block.lang] == "python":
        script = cwd / "example.py"
        script.write_text(code)
        argv = [sys.executable, str(script)]
    else:
        argv = ["bash", "-euo", "pipefail", "-c", code]
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S
    )


@pytest.mark.skipif(not shutil.which("curl") or not shutil.which("jq"), reason="no curl or jq")
@pytest.mark.parametrize("block", TO_RUN, ids=[b.id for b in TO_RUN])
def test_the_example_runs_as_written(block: Block, dlib_server: Server, workdir: Path) -> None:
    done = run_block(block, dlib_server, workdir)
    output = f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
    assert done.returncode == 0, output
    assert '"error":' not in done.stdout, output  # curl prints an error body and exits 0
    if "/analyze -H" in block.code:  # the README's curl: a photo over 96 KB, all six faces
        assert json.loads(done.stdout)["num_faces"] == 6
    if "/video/result" in block.code:
        assert '"identities"' in done.stdout.splitlines()[-1]
