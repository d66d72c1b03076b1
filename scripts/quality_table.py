"""The face-quality table of docs/quality.md: every face the dlib engine finds in the shared
real photos, lowest score first, with its components and the one that set the score.

    .venv/bin/python scripts/quality_table.py [../shared/testdata/faces]

Images are read with OpenCV and shrunk to ``MAX_SHIP_SIDE`` the way the service ships them,
so the sizes are the pixels the model saw.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import numpy as np

from facereid.config import Settings
from facereid.engines.dlib_engine import DlibEngine
from facereid.faces.quality import COMPONENTS, face_quality, pose_from_keypoints

REPEATS = 5
DEFAULT_FOLDER = Path(__file__).resolve().parents[1] / ".." / "shared" / "testdata" / "faces"


def out(line: str) -> None:
    sys.stdout.write(line + "\n")


def _read(path: Path, ship_side: int) -> np.ndarray | None:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        return None
    scale = ship_side / max(image.shape[:2])
    if scale < 1:
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return image


def main(folder: Path) -> int:
    settings = Settings()
    engine = DlibEngine(settings.model_copy(update={"engine": "dlib"}))
    engine.load()
    rows: list[tuple[float, str]] = []
    timings: list[float] = []
    faces = 0
    suffixes = {".jpg", ".jpeg", ".png"}
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in suffixes):
        image = _read(path, settings.max_ship_side)
        if image is None:
            continue
        for k, face in enumerate(engine.detect([image])[0]):
            box = tuple(float(v) for v in face.bbox)
            for _ in range(REPEATS):  # timed: the cost the face service adds per face
                start = time.perf_counter()
                quality = face_quality(image, box, face.score, face.kps)  # type: ignore[arg-type]
                timings.append(time.perf_counter() - start)
            faces += 1
            parts = quality.components.model_dump()
            worst = min(COMPONENTS, key=lambda name: parts[name])
            pose = pose_from_keypoints(face.kps) if face.kps is not None else None
            angles = f"{pose.yaw:+.0f}/{pose.pitch:+.0f}" if pose else "-"
            name = f"{path.relative_to(folder)}" + (f" #{k}" if k else "")
            cells = " | ".join(f"{parts[c]:.2f}" for c in COMPONENTS)
            side = min(box[2] - box[0], box[3] - box[1])
            rows.append(
                (
                    quality.score,
                    f"| {name} | {quality.score:.2f} | {cells} | {side:.0f} | {angles} | {worst} |",
                )
            )
    out("| photo | score | " + " | ".join(COMPONENTS) + " | side px | yaw/pitch° | lowest |")
    out("|" + "---|" * (len(COMPONENTS) + 5))
    for _, line in sorted(rows):
        out(line)
    median = 1000 * float(np.median(timings)) if timings else 0.0
    out(f"\n{faces} faces; quality: median {median:.3f} ms per face (CPU, {REPEATS} runs each)")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_FOLDER))
