"""Build the contract's response shapes from model-service results."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import numpy as np


def face_payload(
    face: dict[str, Any],
    *,
    emotions: dict[str, float] | None,
    model: dict[str, Any],
    timestamp: str,
) -> dict[str, Any]:
    """The seed's /analyze fields for one face, plus what made the embedding.

    ``bbox`` is x, y, width, height in original pixels; ``landmarks`` are the 106-point
    landmarks when the pack has that model and the detector's five points otherwise.
    """
    x1, y1, x2, y2 = (float(v) for v in face["bbox"])
    landmarks = face.get("landmarks_106") or face.get("kps") or []
    embedding = np.asarray(face["embedding"], dtype=np.float32)
    return {
        "face_id": str(uuid.uuid4()),
        "bbox": [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)],
        "landmarks": [[round(float(x), 2), round(float(y), 2)] for x, y in landmarks],
        "embedding": embedding.tolist(),
        "confidence": round(float(face["score"]), 6),
        "emotions": emotions,
        "timestamp": timestamp,
        "keypoints": [[round(float(x), 2), round(float(y), 2)] for x, y in face.get("kps") or []],
        "embedding_model": model["embedding_model"],
        "model_synthetic": bool(model["synthetic"]),
    }


def utc_timestamp() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
