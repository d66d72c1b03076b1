"""Fail loudly when two distributions of one module ended up installed.

insightface asks for opencv-python and onnxruntime; the service wants opencv-python-headless
and, on GPU, onnxruntime-gpu. Two distributions of ``cv2`` or ``onnxruntime`` overwrite each
other's files and break imports in ways that are hard to trace. torch is optional (the
``export`` extra, for ``python -m models``); where it is installed, torchvision must import
beside it.
"""

from __future__ import annotations

import sys
from importlib import metadata

FAMILIES = {
    "cv2": (
        "opencv-python",
        "opencv-python-headless",
        "opencv-contrib-python",
        "opencv-contrib-python-headless",
    ),
    "onnxruntime": (
        "onnxruntime",
        "onnxruntime-gpu",
        "onnxruntime-openvino",
        "onnxruntime-directml",
    ),
}


def installed_distributions(names: tuple[str, ...]) -> list[str]:
    found = []
    for name in names:
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        found.append(name)
    return found


def main() -> int:
    problems = []
    for module, names in FAMILIES.items():
        found = installed_distributions(names)
        if len(found) != 1:
            problems.append(f"{module}: expected exactly one distribution, found {found or 'none'}")
    import cv2  # noqa: F401  (the import itself is the check)
    import onnxruntime  # noqa: F401

    torch = "no torch (serving only)"
    if installed_distributions(("torch",)):  # the `export` extra: provisioning CLIP checkpoints
        import torch as torch_module
        import torchvision  # noqa: F401  (a pair that imports together, scripts/install.sh)

        torch = f"torch {torch_module.__version__}"
    if problems:
        sys.stderr.write("\n".join(problems) + "\n")
        return 1
    sys.stdout.write(f"environment ok: {torch}, one cv2, one onnxruntime\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
