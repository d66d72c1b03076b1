#!/usr/bin/env bash
# `make image-gpu-check`: the GPU face image (bentofile.yaml) built and its Python environment
# checked, on a host that has neither the CUDA base image nor a GPU (this development VM).
# Where the base (bentofile.yaml docker.base_image) cannot be pulled, the python:3.11-slim
# stand-in (scripts/image_base.sh: Debian 12, Python 3.11) is tagged under its name for this
# build only and untagged afterwards, so a later build on this host still pulls the real one.
# The stand-in carries no CUDA runtime or cuDNN and its Python is 3.11 where Ubuntu 24.04's is
# 3.12: what this proves is the Dockerfile, the locked GPU requirements (onnxruntime-gpu) and
# install-insightface.sh: exactly one onnxruntime* and one cv2 distribution, onnxruntime offering
# CUDA before CPU, and no torch, triton or nvidia-* wheels (onnxruntime-gpu loads the CUDA base
# image's CUDA and cuDNN, not a second copy). Not proven: CUDA kernels running (no GPU, no CUDA
# base). The image is removed afterwards unless KEEP_IMAGE=1.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$PWD/.venv/bin/python}
IMAGE=${IMAGE_PREFIX:-}facereid:latest
base=$("$PY" -c 'import yaml; print(yaml.safe_load(open("bentofile.yaml"))["docker"]["base_image"])')
case $base in */*/*) ;; */*) base=docker.io/$base ;; *) base=docker.io/library/$base ;; esac
command -v podman >/dev/null || { echo "image-gpu-check: needs podman (make image installs it)" >&2; exit 3; }
"$PY" scripts/image_env.py containers-conf build/containers.conf >/dev/null
[ -f build/containers.conf ] && export CONTAINERS_CONF=$PWD/build/containers.conf
standin=""
cleanup() {
    [ -z "$standin" ] || podman untag docker.io/library/python:3.11-slim "$base" || true
    [ "${KEEP_IMAGE:-0}" = 1 ] || podman rmi -f "$IMAGE" >/dev/null 2>&1 || true
}
trap cleanup EXIT
if ! podman image exists "$base" && ! podman pull -q "$base" >/dev/null 2>&1; then
    echo "image-gpu-check: $base cannot be pulled; using the python:3.11-slim stand-in under its name (no CUDA in it)"
    bash scripts/image_base.sh >/dev/null
    podman tag docker.io/library/python:3.11-slim "$base"
    standin=1
fi
t0=$(date +%s)
TARGET=face VARIANT=gpu bash scripts/image.sh
echo "image-gpu-check: built in $(( $(date +%s) - t0 )) s, $(podman image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%.2f GB", $1/1e9}')"
# -i: the checks come on stdin (without it python reads nothing and exits 0)
out=$(podman run -i --rm --entrypoint python "$IMAGE" - <<'PY'
import os
import sys
from importlib import metadata

import onnxruntime

sys.path.insert(0, os.path.join(os.environ["BENTO_PATH"], "src"))
from facereid.faces.onnx_runtime import CPU, CUDA, select_providers  # noqa: E402

families = {
    "cv2": ("opencv-python", "opencv-python-headless", "opencv-contrib-python",
            "opencv-contrib-python-headless"),
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu"),
}
failed = False
for module, names in families.items():
    found = []
    for name in names:
        try:
            found.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    print(f"{module}: {found}")
    failed |= len(found) != 1
print("onnxruntime offers:", onnxruntime.get_available_providers())
chosen = select_providers()
print("the face service asks for:", chosen)
failed |= chosen != [CUDA, CPU]
# PyPI's torch is the CUDA build with ~5 GB of nvidia-* wheels: nothing serving imports it
names = {d.metadata["Name"].lower().replace("_", "-"): d.version for d in metadata.distributions()}
heavy = sorted(
    f"{name}=={version}" for name, version in names.items()
    if name in ("torch", "torchvision", "triton", "open-clip-torch")
    or (name.startswith("nvidia-") and name != "nvidia-ml-py")
)
print("torch/nvidia-* distributions:", heavy or "none")
failed |= bool(heavy)
if failed:
    raise SystemExit("image-gpu-check: FAIL")
print("environment checked")
PY
) || { echo "$out"; echo "image-gpu-check: FAIL" >&2; exit 1; }
echo "$out"
case $out in *"environment checked"*) ;; *) echo "image-gpu-check: the checks did not run" >&2; exit 1 ;; esac
echo "image-gpu-check: OK"
