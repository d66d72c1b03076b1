"""Every file the face service reads at run time is packed by every face Bento.

The CPU image once started with FileNotFoundError: deploy/bento/face-cpu.yaml packed
``facereid/**/*.py`` but not the shipped operating points (a JSON file next to them), which
bentofile.yaml did list; only building and starting the image (``make image-test``) showed it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pathspec
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
FACE_BENTOFILES = ["bentofile.yaml", "deploy/bento/face-cpu.yaml"]
PACKAGES = ["facereid", "models", "runners"]


def packed(bentofile: str) -> pathspec.PathSpec[Any]:
    spec = yaml.safe_load((REPO / bentofile).read_text())
    return pathspec.PathSpec.from_lines("gitwildmatch", spec["include"])


def tracked_files() -> list[str]:
    listing = subprocess.run(
        ["git", "ls-files", *PACKAGES], cwd=REPO, capture_output=True, text=True, check=True
    )
    files = listing.stdout.split()
    if not files:
        pytest.skip("not a git checkout: no tracked files to compare")
    return files


@pytest.mark.parametrize("bentofile", FACE_BENTOFILES)
def test_every_package_file_is_packed(bentofile: str) -> None:
    spec = packed(bentofile)
    missing = [f for f in tracked_files() if not spec.match_file(f)]
    assert missing == [], f"{bentofile} does not pack {missing}"


def test_the_check_sees_a_file_left_out() -> None:
    spec = pathspec.PathSpec.from_lines("gitwildmatch", ["facereid/**/*.py"])
    assert not spec.match_file("facereid/matching/operating_points.json")
    assert spec.match_file("facereid/matching/operating_points.py")
