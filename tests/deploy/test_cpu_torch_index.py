"""A CPU image gets CPU torch from the index its builder configures (issue 25).

PyPI's torch for Linux is the CUDA build (~5 GB of nvidia-* wheels in a CPU image). A user who
sets ``pip config set global.extra-index-url https://download.pytorch.org/whl/cpu`` should get
``torch==2.14.1+cpu`` in the Bento's lock with no nvidia-* wheels: ``make image`` hands the pip
config to uv (``scripts/image_env.py``), and the lock (``uv pip compile``, as ``bentoml build``
runs it) matches the ``torch==2.14.1`` pin with the ``+cpu`` local version. download.pytorch.org
is unreachable here, so two local indexes on 127.0.0.1 stand in: a "PyPI" whose torch needs
an nvidia wheel, and a "CPU index" with ``torch 2.14.1+cpu``.

The images install no torch any more (the ``export`` extra, test_bento_build.py); the test stays
as the proof that a builder's extra index reaches the lock and the image install.
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.test_image_env import image_env

UV = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "uv"


def wheel(folder: Path, name: str, version: str, requires: list[str]) -> str:
    """A minimal pure-Python wheel; returns its file name."""
    stem = name.replace("-", "_")  # a wheel's file name escapes the project name
    filename = f"{stem}-{version}-py3-none-any.whl"
    info = f"{stem}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {
        f"{stem}/__init__.py": "",
        f"{info}/METADATA": metadata,
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{path},,\n" for path in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(folder / filename, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return filename


def simple_index(root: Path, packages: dict[str, list[tuple[str, list[str]]]]) -> None:
    """A PEP 503 index under ``root``: /simple/<name>/ pages linking /files/<wheel>."""
    (root / "files").mkdir(parents=True)
    for name, versions in packages.items():
        page = root / "simple" / name
        page.mkdir(parents=True)
        links = []
        for version, requires in versions:
            filename = wheel(root / "files", name, version, requires)
            links.append(f'<a href="/files/{filename.replace("+", "%2B")}">{filename}</a>')
        (page / "index.html").write_text("<html><body>" + "".join(links) + "</body></html>")


@pytest.fixture
def indexes(tmp_path: Path) -> Iterator[tuple[str, str]]:
    pypi, cpu = tmp_path / "pypi", tmp_path / "cpu"
    simple_index(
        pypi,
        {
            "torch": [("2.14.1", ["nvidia-cudnn-cu13==9.24"])],
            "nvidia-cudnn-cu13": [("9.24", [])],
        },
    )
    simple_index(cpu, {"torch": [("2.14.1+cpu", [])]})
    servers = []
    for root in (pypi, cpu):
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    yield tuple(f"http://127.0.0.1:{s.server_address[1]}/simple" for s in servers)  # type: ignore[misc]
    for server in servers:
        server.shutdown()


def lock(tmp_path: Path, pip_config: str) -> str:
    """``uv pip compile`` of the face image's torch pin, with the indexes ``make image`` passes."""
    env, skipped = image_env.uv_index_env(image_env.parse_pip_config(pip_config))
    assert skipped == []
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("torch==2.14.1\n")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
    done = subprocess.run(
        [str(UV), "pip", "compile", str(requirements), "--emit-index-url", "--no-header",
         "--no-annotate", "--quiet", "--python-version", "3.11"],
        env={**clean, **env, "UV_NO_CONFIG": "1", "UV_NO_CACHE": "1", "UV_OFFLINE": "0"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.skipif(not UV.exists(), reason="uv is not in .venv (bentoml installs it)")
def test_the_configured_cpu_index_gives_cpu_torch(tmp_path: Path, indexes: tuple[str, str]) -> None:
    pypi, cpu = indexes
    plain = lock(tmp_path, f"global.index-url='{pypi}'\n")
    assert "torch==2.14.1\n" in plain and "nvidia-cudnn-cu13==9.24" in plain  # the CUDA build
    locked = lock(tmp_path, f"global.index-url='{pypi}'\nglobal.extra-index-url='{cpu}'\n")
    assert "torch==2.14.1+cpu" in locked
    assert "nvidia" not in locked
    assert f"--extra-index-url {cpu}" in locked  # the image installs from the same index
