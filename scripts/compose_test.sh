#!/usr/bin/env bash
# `make compose-test`: deploy/compose.yaml + deploy/compose.cpu.yaml (the CPU face image, the CPU
# CLIP image, Redis, the Chroma server) started with podman-compose and checked from outside:
# every service healthy, /health with CLIP available through CLIP_SERVICE_URL, /analyze on
# t1.jpg (six faces), a gallery enrol + search that lands in the Chroma server, a video job
# (in Redis) that names its identity from that gallery.
# Builds what is missing first (`make image`, scripts/image_standins.sh where registries are
# unreachable). podman-compose >= 1.1 reads compose.cpu.yaml's `!reset` tags (Debian 12's 1.0.3
# cannot), so it comes from PyPI into build/compose-venv. COMPOSE_TEST_PORT (default 40090).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$PWD/.venv/bin/python}
[ -f build/containers.conf ] && export CONTAINERS_CONF=$PWD/build/containers.conf
PC=build/compose-venv/bin/podman-compose
if [ ! -x "$PC" ]; then
    python3 -m venv build/compose-venv
    build/compose-venv/bin/pip install -q "podman-compose>=1.1,<2"
fi
# Service names resolve between containers through the CNI dnsname plugin (Debian packages it
# separately; netavark hosts have aardvark-dns instead).
if [ "$(podman info --format '{{.Host.NetworkBackend}}')" = cni ] && [ ! -x /usr/lib/cni/dnsname ]; then
    echo "compose-test: installing the CNI dnsname plugin (container names as host names)" >&2
    apt-get install -y --no-install-recommends golang-github-containernetworking-plugin-dnsname >/dev/null
fi
podman image exists facereid-cpu:latest || make image TARGET=face VARIANT=cpu
podman image exists facereid-clip-cpu:latest || make image TARGET=clip VARIANT=cpu
bash scripts/image_standins.sh
port=${COMPOSE_TEST_PORT:-40090}
key=compose-test-key-$$
project=facereid-composetest
# FACE_ENGINE=dlib: the packed InsightFace pack is synthetic (arbitrary boxes); dlib's weights
# are real, so t1.jpg's six faces are a real check. Everything else is the compose files' own.
override=build/compose.test.yaml
printf 'services:\n  facereid:\n    environment:\n      FACE_ENGINE: dlib\n' >"$override"
export FACEREID_PORT=$port API_KEYS=$key
pc() { "$PC" -p "$project" -f deploy/compose.yaml -f deploy/compose.cpu.yaml -f "$override" "$@"; }
fail() { echo "compose-test: FAIL: $*" >&2; pc ps >&2 || true; pc logs --tail 20 >&2 || true; exit 1; }
ticker=""
trap '[ -z "$ticker" ] || kill "$ticker"; pc down -v >/dev/null 2>&1 || true' EXIT
# podman runs health checks from systemd timers; without systemd (this VM, most CI containers)
# nothing runs them and `condition: service_healthy` never holds. Run them here meanwhile.
if [ ! -d /run/systemd/system ]; then
    while true; do
        for c in $(podman ps -q --filter "label=io.podman.compose.project=$project"); do
            podman healthcheck run "$c" >/dev/null 2>&1 || true
        done
        sleep 3
    done &
    ticker=$!
fi
t0=$(date +%s)
pc up -d >/dev/null 2>&1 || fail "podman-compose up"
for _ in $(seq 1 360); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 1
done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || fail "/readyz not ready"
echo "compose: ready after $(( $(date +%s) - t0 )) s"
for _ in $(seq 1 60); do  # CLIP's first answer can follow the face API's readiness
    status=$(curl -s -H "Authorization: Bearer $key" "http://127.0.0.1:$port/health" | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("status"))')
    [ "$status" = healthy ] && break
    sleep 2
done
[ "$status" = healthy ] || fail "/health says $status (CLIP service not reached?)"
echo "compose: /health healthy (CLIP answered over CLIP_SERVICE_URL)"
API_KEY=$key "$PY" scripts/image_checks.py "http://127.0.0.1:$port" enrol || fail "HTTP checks"
collections=$(podman exec "${project}_facereid_1" python -c "import json, urllib.request; print(len(json.load(urllib.request.urlopen('http://gallery-store:8000/api/v2/tenants/default_tenant/databases/default_database/collections'))))")
[ "$collections" -ge 1 ] || fail "no collection in the Chroma server"
echo "compose: the Chroma server holds $collections collection(s)"
API_KEY=$key "$PY" scripts/image_checks.py "http://127.0.0.1:$port" video || fail "video job"
keys=$(podman exec "${project}_job-store_1" redis-cli dbsize)
[ "$keys" -ge 1 ] || fail "the video job left nothing in Redis (JOB_STORE_URL not used?)"
echo "compose: Redis holds $keys key(s) (the job store)"
echo "compose-test: OK in $(( $(date +%s) - t0 )) s"
