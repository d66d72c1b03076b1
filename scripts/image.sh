#!/usr/bin/env bash
# `make image`: build the Bento and containerize it with the engine this host has.
#   TARGET=face|clip (default face)  VARIANT=cpu|gpu (default cpu)  IMAGE_PREFIX= (name prefix)
# Set-up, each step only where needed (docs/deploy.md, "Building the images"):
#  - no docker daemon and no podman: install podman + runc with apt (root and apt-get only);
#  - podman on a host that cannot raise rlimits or runs cgroup v1/hybrid: a containers.conf
#    (scripts/image_env.py) exported as CONTAINERS_CONF;
#  - the CPU base (python:3.11-slim) cannot be pulled: a local stand-in (scripts/image_base.sh);
#  - the lock names the user's pip indexes (URLs only), not a pinned pypi.org.
set -euo pipefail
cd "$(dirname "$0")/.."
export TARGET=${TARGET:-face} VARIANT=${VARIANT:-cpu}
PY=${PYTHON:-$PWD/.venv/bin/python}

engine=""
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then engine=docker
elif command -v podman >/dev/null; then engine=podman
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "image: no container engine; installing podman and runc with apt-get" >&2
    apt-get install -y --no-install-recommends podman runc >/dev/null || apt-get update >/dev/null
    command -v podman >/dev/null || apt-get install -y --no-install-recommends podman runc >/dev/null
    engine=podman
else
    echo "image: no container engine (docker daemon or podman) and cannot install one (needs root + apt-get)" >&2
    exit 3
fi
if [ "$engine" = podman ]; then
    conf=$("$PY" scripts/image_env.py containers-conf build/containers.conf)
    if [ -n "$conf" ]; then
        command -v runc >/dev/null || apt-get install -y --no-install-recommends runc >/dev/null
        export CONTAINERS_CONF=$PWD/$conf
        echo "image: this host needs $conf (rlimits/cgroups): CONTAINERS_CONF=$CONTAINERS_CONF" >&2
    fi
    if [ "$VARIANT" = cpu ] && ! podman image exists docker.io/library/python:3.11-slim \
        && ! podman pull -q docker.io/library/python:3.11-slim >/dev/null 2>&1; then
        echo "image: python:3.11-slim cannot be pulled; building the local stand-in" >&2
        bash scripts/image_base.sh
    fi
fi
eval "$(pip config list 2>/dev/null | "$PY" scripts/image_env.py index)"
bash scripts/bento.sh build
# BentoML refuses a dockerfile_template outside the working directory, and it copies the Bento to
# $TMPDIR before rendering: keep that copy under the checkout (build/tmp).
mkdir -p build/tmp
TMPDIR=$PWD/build/tmp IMAGE_ENGINE=$engine bash scripts/bento.sh containerize
