#!/usr/bin/env bash
# Headless Locust against a local `bentoml serve service:FaceReID` that this script starts
# (own BentoML store with the synthetic realistic models unless LOADTEST_HOME is given),
# bounded in time; CSV and HTML reports go to reports/. Only 127.0.0.1 is ever targeted.
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

SERVER_PID=""
cleanup() {
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 1; done
    kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap "exit 130" INT TERM

if [[ -n ${LOADTEST_URL:-} ]]; then
  URL=$LOADTEST_URL
else
  if ! BENTOML_HOME=$HOME_DIR "$PY" -m models list 2>/dev/null | grep -q "facereid-insightface"; then
    echo "synthesising $PROFILE models into $HOME_DIR" >&2
    BENTOML_HOME=$HOME_DIR "$PY" -m models synth --profile "$PROFILE" --seed 0 >&2
  fi
  PORT=${LOADTEST_PORT:-$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
  URL=http://127.0.0.1:$PORT
  echo "starting bentoml serve on $URL (log: $OUT/loadtest_server.log)" >&2
  BENTOML_HOME=$HOME_DIR FACE_ENGINE=insightface CLIP_HEALTH_INTERVAL_S=1 \
    setsid "$BIN/bentoml" serve service:FaceReID --host 127.0.0.1 --port "$PORT" \
    >"$OUT/loadtest_server.log" 2>&1 &
  SERVER_PID=$!
fi

deadline=$((SECONDS + ${LOADTEST_STARTUP_S:-300}))
until curl -fsS "$URL/health" 2>/dev/null | grep -Eq '"status": *"healthy"'; do
  if [[ -n $SERVER_PID ]] && ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "server exited; see $OUT/loadtest_server.log" >&2; exit 1
  fi
  (( SECONDS < deadline )) || { echo "server not healthy in time" >&2; exit 1; }
  sleep 1
done

PREFIX=$OUT/loadtest_${CLASS}
echo "locust: $CLASS, $USERS users, $RUN_TIME against $URL" >&2
"$BIN/locust" -f loadtests/locustfile.py --headless -H "$URL" -u "$USERS" -r "$SPAWN" \
  -t "$RUN_TIME" --stop-timeout 10 --csv "$PREFIX" --html "$PREFIX.html" --only-summary \
  "$@" "$CLASS"
echo "reports: $PREFIX.html, ${PREFIX}_stats.csv" >&2
