#!/usr/bin/env bash
# Local stand-ins for the two third-party images deploy/compose.yaml names, for hosts that cannot
# pull from a registry (this development VM): `redis:7-alpine` (Debian's redis-server 7.0, with
# redis-cli for the health check) and `chromadb/chroma:1.5.9` (the chromadb 1.5.9 package from
# PyPI, `chroma run` on port 8000 with its data in /data, bash for the health check), both on the
# python:3.11-slim stand-in (scripts/image_base.sh). On a normal host the real images are pulled
# and this is never needed: scripts/compose_test.sh calls it only where a pull fails. Each is
# labelled facereid.stand-in=true; `podman rmi` them before pulling the real ones on such a host.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/containers.conf ] && export CONTAINERS_CONF=$PWD/build/containers.conf
bash scripts/image_base.sh >/dev/null
ctx=$(mktemp -d /var/tmp/standin.XXXXXX)
trap 'rm -rf "$ctx"' EXIT

build() { # name containerfile-text
    if podman image exists "$1" || podman pull -q "$1" >/dev/null 2>&1; then
        echo "stand-in: $1 present"; return 0; fi
    printf '%s\n' "$2" >"$ctx/Containerfile"
    podman build -q --label facereid.stand-in=true -t "$1" "$ctx" >/dev/null
    echo "stand-in: $1 built (local stand-in, not the official image)"
}
build docker.io/library/redis:7-alpine 'FROM docker.io/library/python:3.11-slim
RUN apt-get update -y && apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* && mkdir -p /data
WORKDIR /data
EXPOSE 6379
# as the official image entrypoint does for a config-less start: reachable from other containers
ENTRYPOINT ["sh", "-c", "exec \"$@\" --protected-mode no", "--"]
CMD ["redis-server"]'
# The real image runs `chroma run /config.yaml`; the package's CLI takes the same settings as flags.
build docker.io/chromadb/chroma:1.5.9 'FROM docker.io/library/python:3.11-slim
RUN pip install --no-cache-dir chromadb==1.5.9 && mkdir -p /data
EXPOSE 8000
CMD ["chroma", "run", "--path", "/data", "--host", "0.0.0.0", "--port", "8000"]'
