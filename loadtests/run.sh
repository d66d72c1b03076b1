#!/usr/bin/env bash
# Headless Locust against a local `bentoml serve service:FaceReID` that the shared harness
# (python -m tests.harness) starts, on its own BentoML store with the synthetic realistic
# models unless LOADTEST_HOME is given; bounded in time; CSV and HTML reports go to reports/.
# Only 127.0.0.1 is ever targeted.
#
#   loadtests/run.sh                       # MixedUser, 16 users, 60 s
#   LOADTEST_USERS=32 LOADTEST_TIME=2m LOADTEST_CLASS=AnalyzeUser loadtests/run.sh
#   LOADTEST_URL=http://127.0.0.1:3000 loadtests/run.sh   # use a server already running
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PY:-$ROOT/.venv/bin/python}
BIN=$(dirname "$PY")
CLASS=${LOADTEST_CLASS:-MixedUser}
USERS=${LOADTEST_USERS:-16}
SPAWN=${LOADTEST_SPAWN_RATE:-4}
RUN_TIME=${LOADTEST_TIME:-60s}
PROFILE=${LOADTEST_PROFILE:-realistic}
HOME_DIR=${LOADTEST_HOME:-$ROOT/reports/bentoml_home_$PROFILE}
OUT=${LOADTEST_OUT:-$ROOT/reports}
export BENTOML_DO_NOT_TRACK=true PYTHONUNBUFFERED=1
mkdir -p "$OUT"

LOCUST=("$BIN/locust" -f loadtests/locustfile.py --headless -u "$USERS" -r "$SPAWN" -t "$RUN_TIME"
  --stop-timeout 10 --csv "$OUT/loadtest_${CLASS}" --html "$OUT/loadtest_${CLASS}.html"
  --only-summary "$@")
echo "locust: $CLASS, $USERS users, $RUN_TIME" >&2
if [[ -n ${LOADTEST_URL:-} ]]; then
  "${LOCUST[@]}" -H "$LOADTEST_URL" "$CLASS"
else
  # The shared server harness (tests/harness.py): synthesises the store if it has no models,
  # starts `bentoml serve service:FaceReID`, waits for /health, runs locust, stops the server.
  # The users send the same few images again and again: without ANALYSIS_CACHE=0 the load test
  # would time the repeated-image cache, not the models.
  "$PY" -m tests.harness --home "$HOME_DIR" --profile "$PROFILE" --env "ANALYSIS_CACHE=${ANALYSIS_CACHE:-0}" \
    --log "$OUT/loadtest_server.log" --healthy-timeout "${LOADTEST_STARTUP_S:-300}" \
    -- "${LOCUST[@]}" -H "{url}" "$CLASS"
fi
echo "reports: $OUT/loadtest_${CLASS}.html, $OUT/loadtest_${CLASS}_stats.csv" >&2
