"""`bentoml build` of every deployable and variant from a clean checkout, with synthetic models
in a private store, and what the Bentos would put in their images: the intended base image,
exactly one onnxruntime and one cv2 distribution, no torch and no nvidia-* wheels (the GPU
images use the CUDA base image's libraries), the models packed.

The build locks dependencies with uv against the package index, so the slow tests need it:
they skip, saying why, only when the index does not answer."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
GPU_BASE = "nvidia/cuda:13.0.0-cudnn-runtime-ubuntu24.04"
CPU_BASE = "python:3.11-slim"
CUDA_MAJOR = 13
BUILD_TIMEOUT_S = 900

CV2 = {"opencv-python", "opencv-python-headless", "opencv-contrib-python",
       "opencv-contrib-python-headless"}  # fmt: skip
ORT = {"onnxruntime", "onnxruntime-gpu", "onnxruntime-openvino", "onnxruntime-directml"}


@dataclass(frozen=True)
class Deployable:
    bentofile: str
    name: str
    base_image: str
    onnxruntime: str | None  # the one onnxruntime distribution, None: no onnxruntime at all
    cv2: str | None
    models: frozenset[str]


# the emotion service references CLIP and fer's model both (EMOTION_ENGINE picks at start)
FACE_MODELS = frozenset({"facereid-insightface", "facereid-clip", "facereid-fer"})
CLIP_MODELS = frozenset({"facereid-clip", "facereid-fer"})
DEPLOYABLES = [
    Deployable("bentofile.yaml", "facereid", GPU_BASE, "onnxruntime-gpu",
               "opencv-python-headless", FACE_MODELS),
    Deployable("deploy/bento/face-cpu.yaml", "facereid-cpu", CPU_BASE, "onnxruntime",
               "opencv-python-headless", FACE_MODELS),
    Deployable("deploy/bento/clip-gpu.yaml", "facereid-clip", GPU_BASE, "onnxruntime-gpu",
               "opencv-python-headless", CLIP_MODELS),
    Deployable("deploy/bento/clip-cpu.yaml", "facereid-clip-cpu", CPU_BASE, "onnxruntime",
               "opencv-python-headless", CLIP_MODELS),
]  # fmt: skip


# PyPI's torch is the CUDA build: torch, triton and ~5 GB of nvidia-* wheels. Nothing serving
# imports torch (the `export` extra is for `python -m models`), so no image may install it.
TORCH_STACK = ("torch", "torchvision", "open-clip-torch", "triton")


def torch_stack(names: set[str]) -> set[str]:
    return {n for n in names if n in TORCH_STACK or n.startswith("nvidia-") and n != "nvidia-ml-py"}


def requirement_name(line: str) -> str | None:
    line = line.split("#", 1)[0].strip()
    if not line or line.startswith("-"):
        return None
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
    return None if match is None else re.sub(r"[-_.]+", "-", match.group(0)).lower()


def locked(bento: Path) -> dict[str, str]:
    """name -> pinned version from the Bento's locked requirements: requirements.txt, or
    requirements.lock.txt where a dockerfile_template (the CPU images) selects BentoML's
    older layout (requirements.txt as written, the lock beside it, env/python/install.sh)."""
    pins: dict[str, str] = {}
    lock = bento / "env" / "python" / "requirements.lock.txt"
    if not lock.is_file():
        lock = bento / "env" / "python" / "requirements.txt"
    for line in lock.read_text().splitlines():
        name = requirement_name(line)
        if name is not None:
            assert "==" in line, f"not pinned: {line}"
            pins[name] = line.split("==", 1)[1].split(";")[0].strip()
    return pins


# -- fast checks on the build inputs ----------------------------------------------------------


def requirement_names(path: Path) -> set[str]:
    names = {requirement_name(line) for line in path.read_text().splitlines()}
    return {n for n in names if n is not None}


IMAGE_REQUIREMENTS = sorted((REPO_ROOT / "deploy" / "bento").glob("requirements-*.txt"))


@pytest.mark.parametrize("path", IMAGE_REQUIREMENTS, ids=lambda p: p.name)
def test_image_requirements_hold_no_torch(path: Path) -> None:
    names = requirement_names(path)
    assert not torch_stack(names), path.name
    assert names & ORT, f"{path.name}: the models run on ONNX Runtime"


def test_torch_is_the_export_extra_not_a_dependency() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert not torch_stack({requirement_name(dep) or "" for dep in project["dependencies"]})
    export = {requirement_name(dep) for dep in project["optional-dependencies"]["export"]}
    assert {"torch", "torchvision", "open-clip-torch"} <= export
    install = (REPO_ROOT / "scripts" / "install.sh").read_text()
    assert re.search(r"EXTRAS=\$\{EXTRAS:-[a-z,]*\bexport\b", install), "dev venvs provision"


def test_clip_requirements_are_a_subset_of_pyproject() -> None:
    """The CLIP images install what runners.emotion needs: a part of pyproject's own
    dependencies (the same specs): ONNX Runtime, the tokenizer, OpenCV for fer's crops; no
    insightface or dlib."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    wanted = {requirement_name(dep) for dep in project["dependencies"]}
    for variant, ort in (("gpu", "onnxruntime-gpu"), ("cpu", "onnxruntime")):
        names = requirement_names(
            REPO_ROOT / "deploy" / "bento" / f"requirements-clip-{variant}.txt"
        )
        assert names - {ort} <= wanted, variant
        assert {ort, "tokenizers", "bentoml"} <= names, variant
        assert names & CV2 == {"opencv-python-headless"}, variant  # fer's crops (fer_model.py)


def test_face_requirements_follow_pyproject() -> None:
    """Every runtime dependency of the project is in the face images' requirements, with
    onnxruntime swapped for onnxruntime-gpu on GPU; none of insightface's wrong extras."""
    check = subprocess.run(
        [sys.executable, "scripts/bento_requirements.py", "--check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    wanted = {requirement_name(dep) for dep in project["dependencies"]}
    for variant, ort in (("gpu", "onnxruntime-gpu"), ("cpu", "onnxruntime")):
        names = requirement_names(
            REPO_ROOT / "deploy" / "bento" / f"requirements-face-{variant}.txt"
        )
        assert names == (wanted - {"onnxruntime"}) | {ort}, variant
        assert not names & {"insightface", "opencv-python"}


def test_containerize_without_an_engine_says_so_in_one_line() -> None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "info"], capture_output=True).returncode == 0:
        pytest.skip("a container engine is running here; containerize would really build")
    if shutil.which("podman") or shutil.which("buildah"):
        pytest.skip("podman or buildah is present")
    result = subprocess.run(
        ["bash", "scripts/bento.sh", "containerize"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no container engine" in lines[0], result.stderr


# -- the real builds --------------------------------------------------------------------------


def package_index() -> str:
    return (
        os.environ.get("UV_DEFAULT_INDEX")
        or os.environ.get("UV_INDEX_URL")
        or ("https://pypi.org/simple")
    )


def require_index() -> None:
    url = package_index().rstrip("/") + "/bentoml/"
    try:
        httpx.get(url, timeout=15, follow_redirects=True).raise_for_status()
    except httpx.HTTPError as exc:
        pytest.skip(f"package index {url} not reachable ({exc!r}); bentoml build locks with uv")


def clean_checkout(dest: Path) -> Path:
    """The files a fresh `git clone` plus the uncommitted work would have: tracked and
    untracked-but-not-ignored files, nothing from .venv, bentoml_home or caches."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT, check=True, capture_output=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, files):
        source = REPO_ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    require_index()
    if not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout: cannot tell a clean checkout's files")
    checkout = clean_checkout(tmp_path_factory.mktemp("checkout"))
    home = tmp_path_factory.mktemp("bentoml-home")
    env = {
        **os.environ,
        "BENTOML_HOME": str(home),
        "BENTOML_DO_NOT_TRACK": "true",
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("CLIP_SERVICE_URL", None)  # the face Bentos pack the local CLIP model too
    subprocess.run(
        [sys.executable, "-m", "models", "synth", "--seed", "0"],
        cwd=checkout, env=env, check=True, capture_output=True,
    )  # fmt: skip

    def build(deployable: Deployable) -> tuple[str, Path]:
        result = subprocess.run(
            [str(VENV_BIN / "bentoml"), "build", "-f", deployable.bentofile, "."]
            + ["--output", "tag"],
            cwd=checkout, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S,
        )  # fmt: skip
        assert result.returncode == 0, f"{deployable.bentofile}:\n{result.stdout}\n{result.stderr}"
        tag = result.stdout.strip().splitlines()[-1].removeprefix("__tag__:")
        name, version = tag.split(":")
        return deployable.name, home / "bentos" / name / version

    with ThreadPoolExecutor(max_workers=2) as pool:  # uv locking waits on the network
        return dict(pool.map(build, DEPLOYABLES))


@pytest.mark.slow
@pytest.mark.parametrize("deployable", DEPLOYABLES, ids=lambda d: d.name)
def test_bento_image_definition(built: dict[str, Path], deployable: Deployable) -> None:
    bento = built[deployable.name]
    dockerfile = (bento / "env" / "docker" / "Dockerfile").read_text()
    assert re.findall(r"^FROM (\S+)", dockerfile, re.M) == [deployable.base_image]

    pins = locked(bento)
    ort = {n for n in pins if n in ORT}
    if deployable.onnxruntime == "onnxruntime-gpu":
        # chromadb pulls onnxruntime into the lock; the setup script swaps it out (below)
        ort -= {"onnxruntime"}
    assert ort == ({deployable.onnxruntime} - {None})
    assert {n for n in pins if n in CV2} == ({deployable.cv2} - {None})
    assert "insightface" not in pins  # it would pull opencv-python and onnxruntime
    assert not torch_stack(set(pins)), "torch or nvidia-* wheels in the lock"

    info = yaml.safe_load((bento / "bento.yaml").read_text())
    assert info["name"] == deployable.name
    packed = {m["tag"].split(":")[0] for s in info["services"] for m in s["models"]}
    assert packed == deployable.models
    assert not (bento / "src" / "tests").exists()
    assert not (bento / "src" / "bentoml_home").exists() and not (bento / "src" / "build").exists()
    if deployable.name == "facereid-cpu":  # deploy/bento/Dockerfile.cpu.j2 (issue 25)
        assert "build-essential" not in dockerfile and "ENV UV_NO_CACHE=1" in dockerfile
        assert "chown bentoml:bentoml /var/lib/facereid" in dockerfile
        assert "ENV DATA_DIR=/var/lib/facereid" in dockerfile
        # the unused kubernetes client and matplotlib stay out of the locked install
        assert "ENV UV_OVERRIDE=/etc/facereid/uv-overrides.txt" in dockerfile
        overrides = (bento / "src" / "deploy" / "bento" / "uv-overrides.txt").read_text()
        assert 'kubernetes ; sys_platform == "never"' in overrides

    if deployable.models == FACE_MODELS:  # the face images (the CLIP images: no insightface)
        # insightface goes in --no-deps, after the locked requirements, then the guard runs
        install = re.search(
            r"pip install -r \$BENTO_PATH/env/python/requirements\.txt|env/python/install\.sh",
            dockerfile,
        )
        assert install is not None, "no locked install in the Dockerfile"
        script = re.search(r"\./env/docker/(script__\w+|setup_script)", dockerfile[install.end() :])
        assert script is not None, "the insightface setup script does not run after the install"
        body = (bento / "env" / "docker" / script.group(1)).read_text()
        assert 'uv pip install --no-deps "insightface==2.1" "trackers==2.6.1"' in body
        assert "uv pip uninstall onnxruntime" in body  # the chromadb-pulled CPU build goes


def cuda_majors(requirements: list[str]) -> set[int]:
    """CUDA majors named by requirement strings: nvidia-*-cuNN names, nvidia-cuda-runtime /
    cuda-toolkit versions."""
    majors = set()
    for req in requirements:
        if "extra ==" in req and "cuda" not in req and "cudnn" not in req:
            continue
        name = requirement_name(req) or ""
        if m := re.search(r"-cu(\d+)$", name):
            majors.add(int(m.group(1)))
        elif name in {"nvidia-cuda-runtime", "cuda-toolkit", "nvidia-cuda-nvrtc"}:
            if m := re.search(r"(?:==|~=|>=)\s*(\d+)\.", req):
                majors.add(int(m.group(1)))
    return majors


@pytest.mark.slow
def test_gpu_builds_use_the_base_images_cuda(built: dict[str, Path], tmp_path: Path) -> None:
    """onnxruntime-gpu as locked is a build for the base image's CUDA major, and the GPU locks
    hold no CUDA libraries of their own: onnxruntime-gpu loads the base image's CUDA and cuDNN
    (its nvidia-* wheels are an extra, [cuda,cudnn], that the requirements do not ask for)."""
    report = tmp_path / "report.json"
    pins = locked(built["facereid"])
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--ignore-installed",
         "--only-binary", ":all:", "-q", "--report", str(report),
         f"onnxruntime-gpu=={pins['onnxruntime-gpu']}"],
        check=True, capture_output=True,
    )  # fmt: skip
    requires = json.loads(report.read_text())["install"][0]["metadata"].get("requires_dist") or []
    assert cuda_majors(requires) == {CUDA_MAJOR}, requires
    assert f"cuda:{CUDA_MAJOR}." in GPU_BASE and "cudnn" in GPU_BASE
    for name in ("facereid", "facereid-clip"):
        pins = locked(built[name])
        assert cuda_majors([f"{n}=={v}" for n, v in pins.items()]) == set(), name
        assert not torch_stack(set(pins)), name
