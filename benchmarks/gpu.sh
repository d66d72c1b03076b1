#!/usr/bin/env bash
# GPU check for a lent device machine (run by the lead, not by CI):
#   carry: [".whl"]   command: bash benchmarks/gpu.sh
# Installs open_clip and its two missing pure-Python needs from the carried wheels
# (.whl/bench: open_clip_torch, ftfy, wcwidth; torch and timm are already there), then times
# the CLIP image tower on CUDA in fp32 and fp16. Bounded: ~3 min; table in $OUT/gpu_bench.md.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-reports}
mkdir -p "$OUT"
PY=${PY:-python3}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >"$OUT/gpu_smi.txt" 2>&1 || true
if ! "$PY" -c "import open_clip" 2>/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/bench/*.whl || { echo "wheel install failed" >&2; exit 1; }
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
export PYTHONUNBUFFERED=1
timeout "${GPU_BENCH_TIMEOUT_S:-420}" "$PY" benchmarks/gpu_bench.py --out "$OUT/gpu_bench.md" \
  --seconds "${GPU_BENCH_SECONDS:-2}" 2>&1 | tee "$OUT/gpu_bench.log"
