#!/bin/sh
# Runs inside the image after the locked requirements are installed (bentofile docker.setup_script).
# insightface's metadata asks for opencv-python and onnxruntime; the image already has
# opencv-python-headless and onnxruntime(-gpu), so it goes in without its dependencies.
# trackers (ByteTrack for video) asks for opencv-python too; same treatment.
set -eu
uv pip install --no-deps "insightface==2.1" "trackers==2.6.1"
# chromadb (the gallery store) asks for onnxruntime, so a GPU image's lock holds both
# onnxruntime and onnxruntime-gpu, one module: keep the GPU build, reinstalled over it.
gpu_ort=$(python -c 'from importlib import metadata as m; print(m.version("onnxruntime-gpu"))' 2>/dev/null || true)
if [ -n "$gpu_ort" ] && python -c 'from importlib import metadata as m; m.version("onnxruntime")' 2>/dev/null; then
    uv pip uninstall onnxruntime
    uv pip install --reinstall --no-deps "onnxruntime-gpu==$gpu_ort"
fi
python - <<'PY'
from importlib import metadata
for family in (("opencv-python", "opencv-python-headless", "opencv-contrib-python",
                "opencv-contrib-python-headless"), ("onnxruntime", "onnxruntime-gpu")):
    found = []
    for name in family:
        try:
            metadata.version(name)
            found.append(name)
        except metadata.PackageNotFoundError:
            pass
    if len(found) != 1:
        raise SystemExit(f"expected exactly one of {family}, found {found}")
PY
