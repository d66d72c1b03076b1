#!/usr/bin/env bash
# Build Bentos or containerize them.  Usage: scripts/bento.sh build|containerize
#   TARGET=face|clip|all (default all)   VARIANT=gpu|cpu|all (default gpu)
#   IMAGE_PREFIX=registry.example.com/team/ (containerize: image name prefix, default none)
# face/gpu: bentofile.yaml; face/cpu, clip/gpu, clip/cpu: deploy/bento/<target>-<variant>.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."
ACTION=${1:?usage: scripts/bento.sh build|containerize}
TARGET=${TARGET:-all}
VARIANT=${VARIANT:-gpu}
VENV_BIN=$PWD/.venv/bin
export PATH=$VENV_BIN:$PATH BENTOML_DO_NOT_TRACK=${BENTOML_DO_NOT_TRACK:-true}

case $TARGET in all) targets=(face clip) ;; face | clip) targets=("$TARGET") ;;
    *) echo "TARGET must be face, clip or all, not '$TARGET'" >&2; exit 2 ;; esac
case $VARIANT in all) variants=(gpu cpu) ;; gpu | cpu) variants=("$VARIANT") ;;
    *) echo "VARIANT must be gpu, cpu or all, not '$VARIANT'" >&2; exit 2 ;; esac

bentofile() { # target variant
    if [ "$1/$2" = face/gpu ]; then echo bentofile.yaml; else echo "deploy/bento/$1-$2.yaml"; fi
}
bento_name() { # target variant
    local name=facereid
    [ "$1" = clip ] && name=facereid-clip
    [ "$2" = cpu ] && name=$name-cpu
    echo "$name"
}

if [ "$ACTION" = containerize ]; then
    # One line, non-zero, when no engine can build: `docker` without a daemon counts as none.
    engine=${IMAGE_ENGINE:-}
    if [ -n "$engine" ]; then :
    elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then engine=docker
    elif command -v podman >/dev/null && podman info >/dev/null 2>&1; then engine=podman
    elif command -v buildah >/dev/null; then engine=buildah; fi
    if [ -z "$engine" ]; then
        echo "containerize: no container engine available (docker daemon, podman or buildah); run \`make bento\` here and containerize on a host with one" >&2
        exit 3
    fi
    for t in "${targets[@]}"; do for v in "${variants[@]}"; do
        name=$(bento_name "$t" "$v")
        bentoml containerize --backend "$engine" "$name:latest" -t "${IMAGE_PREFIX:-}$name:latest"
    done; done
    exit 0
fi

[ "$ACTION" = build ] || { echo "unknown action '$ACTION' (build|containerize)" >&2; exit 2; }
# The face images' requirements follow pyproject.toml (onnxruntime swapped per variant).
"$VENV_BIN/python" scripts/bento_requirements.py
# A Bento packs the models in the store; without them it would silently serve the dlib
# fallback (face) or no emotions (clip). ALLOW_MISSING_MODELS=1 builds anyway.
missing=$("$VENV_BIN/python" - "${targets[@]}" <<'PY'
import sys
import bentoml
from bentoml.exceptions import NotFound
from facereid.config import get_settings
settings = get_settings()
wanted = {settings.clip_model_tag}
if "face" in sys.argv[1:]:
    wanted.add(settings.face_model_tag)
for tag in sorted(wanted):
    try:
        bentoml.models.get(tag)
    except NotFound:
        print(tag)
PY
)
if [ -n "$missing" ] && [ "${ALLOW_MISSING_MODELS:-0}" != 1 ]; then
    echo "bento: not in the BentoML store ($BENTOML_HOME): $(echo $missing); run \`python -m models pull\` (or import/synth) first, or set ALLOW_MISSING_MODELS=1" >&2
    exit 4
fi
for t in "${targets[@]}"; do for v in "${variants[@]}"; do
    echo "bentoml build -f $(bentofile "$t" "$v")"
    bentoml build -f "$(bentofile "$t" "$v")" . --output tag
done; done
