#!/usr/bin/env bash
# `make image-test`: the CPU face image (built by `make image`, synthetic models when the store has
# no real ones) started with podman and checked from outside over HTTP: its size against
# IMAGE_BUDGET_GB (default 1.5: no torch, docs/deploy.md "Image sizes"), the cold start (podman
# start -> /readyz -> first /analyze answered, seconds; benchmarks/cold_start.py repeats it),
# /health, /livez, /analyze on insightface's t1.jpg (six faces), /ui, gallery enrol + search with
# DATA_DIR on a named volume (FACE_ENGINE=dlib, real weights) that survives a restart, a non-root process, SIGTERM within the
# grace time, no tests/secrets in the image. IMAGE_TEST_PORT (default 40080), GRACE (default 60 s,
# terminationGracePeriodSeconds in deploy/k8s).
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${IMAGE:-facereid-cpu:latest}
PORT=${IMAGE_TEST_PORT:-40080}
GRACE=${GRACE:-60}
PY=${PYTHON:-$PWD/.venv/bin/python}
[ -f build/containers.conf ] && export CONTAINERS_CONF=$PWD/build/containers.conf
name=facereid-imgtest-$$
vol=facereid-imgtest-$$
cleanup() { podman rm -f "$name" >/dev/null 2>&1 || true; podman volume rm -f "$vol" >/dev/null 2>&1 || true; }
trap cleanup EXIT
fail() { echo "image-test: FAIL: $*" >&2; exit 1; }
url=http://127.0.0.1:$PORT

BUDGET_GB=${IMAGE_BUDGET_GB:-1.5}
within_budget() { # image: print its size, fail over the budget
    local size
    size=$(podman image inspect "$1" --format '{{.Size}}')
    echo "image $1: $(awk -v s="$size" 'BEGIN {printf "%.2f GB", s/1e9}') (budget $BUDGET_GB GB)"
    awk -v s="$size" -v b="$BUDGET_GB" 'BEGIN {exit !(s <= b * 1e9)}' \
        || fail "$1 over its budget of $BUDGET_GB GB (IMAGE_BUDGET_GB)"
}
within_budget "$IMAGE"
# the CPU CLIP image too, where `make image TARGET=clip` (or compose-test) has built it
CLIP_IMAGE=${CLIP_IMAGE:-facereid-clip-cpu:latest}
if podman image exists "$CLIP_IMAGE"; then within_budget "$CLIP_IMAGE"; fi
# the image holds no tests, no secrets, no compilers
podman run --rm --user root --entrypoint sh "$IMAGE" -c '
  cd "$BENTO_PATH"; bad=$(find / -xdev \( -path /proc -o -path /sys \) -prune -o \( -name "*.pem" -o -name "*.key" -o -name ".env" -o -name "id_rsa*" \) -print | grep -v -e /etc/ssl -e /usr/lib/ssl -e /usr/share/ca-certificates -e /usr/local/share/ca-certificates -e site-packages -e /usr/lib/python3 || true)
  [ -z "$bad" ] || { echo "secret-like files: $bad"; exit 1; }
  [ ! -e src/tests ] || { echo "tests packed: src/tests"; exit 1; }
  for cc in gcc cc g++ make; do command -v $cc && { echo "compiler in image: $cc"; exit 1; }; done; true' \
    || fail "image contents"
podman run --rm --entrypoint sh "$IMAGE" -c '
  [ "$(id -u)" != 0 ] || { echo "runs as root"; exit 1; }
  echo "user $(id -un) ($(id -u)); DATA_DIR=$DATA_DIR owned by $(stat -c %U "$DATA_DIR")"; [ "$(stat -c %u "$DATA_DIR")" = "$(id -u)" ]' || fail "image contents"

podman volume create "$vol" >/dev/null
start() { # [first]: also time the first /analyze answered
    local t0=$(date +%s.%N)
    podman start "$name" >/dev/null
    for _ in $(seq 1 3000); do
        curl -sf "$url/readyz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    curl -sf "$url/readyz" >/dev/null || { podman logs --tail 30 "$name"; fail "/readyz not ready"; }
    echo "ready after $(echo "$(date +%s.%N) - $t0" | bc) s"
    if [ "${1:-}" = first ]; then
        "$PY" scripts/image_checks.py "$url" first || fail "first /analyze"
        echo "first /analyze answered after $(echo "$(date +%s.%N) - $t0" | bc) s"
    fi
}
# FACE_ENGINE=dlib: the synthetic InsightFace pack finds arbitrary boxes; dlib's weights (on
# PyPI, packed in the image) are real, so t1.jpg's six faces are a real check.
podman create --name "$name" -e FACE_ENGINE="${IMAGE_TEST_ENGINE:-dlib}" -p "127.0.0.1:$PORT:3000" -v "$vol:/var/lib/facereid" "$IMAGE" >/dev/null
start first
"$PY" scripts/image_checks.py "$url" enrol || fail "HTTP checks"
podman stop -t "$GRACE" "$name" >/dev/null
start
"$PY" scripts/image_checks.py "$url" search || fail "gallery after restart"
"$PY" scripts/image_checks.py "$url" video || fail "video job (SQLite job store on the volume)"
t0=$(date +%s.%N)
podman stop -t "$GRACE" "$name" >/dev/null
took=$(echo "$(date +%s.%N) - $t0" | bc)
code=$(podman inspect "$name" --format '{{.State.ExitCode}}')
echo "SIGTERM: stopped in $took s, exit code $code"
[ "$code" != 137 ] || fail "SIGTERM ignored: killed after $GRACE s"
echo "image-test: OK"
