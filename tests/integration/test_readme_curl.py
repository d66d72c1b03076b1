"""The README's curl example, run as written against a real server with a real photo larger
than the ~96 KB that once broke it (issue 23: ``Argument list too long``)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tests.harness import REPO_ROOT, Server

pytestmark = pytest.mark.slow


def readme_block(containing: str) -> str:
    text = (REPO_ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL)
    (block,) = [str(b) for b in blocks if containing in b]
    return block


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_readme_analyze_example_works_for_a_large_photo(
    dlib_server: Server, t1_path: Path, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.jpg"
    with Image.open(t1_path) as image:
        image.resize((image.width * 2, image.height * 2)).save(photo, quality=97)
    assert photo.stat().st_size > 200_000  # its base64 is over one argument's 128 KiB
    command = readme_block("/analyze").replace("http://127.0.0.1:3000", dlib_server.url)
    done = subprocess.run(
        ["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["num_faces"] == 6, answer
