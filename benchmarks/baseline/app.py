"""The baseline: what a newcomer writes from the seed. FastAPI, insightface's own
``FaceAnalysis.get()`` per request, open_clip per face (one forward each, text features
computed once at startup), one uvicorn worker. Same models as the service (exported from
the store), so the benchmark compares the serving, not the weights.

    BASELINE_PACK_DIR=... BASELINE_CLIP_DIR=... uvicorn benchmarks.baseline.app:app --workers 1
"""

from __future__ import annotations

import base64
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import torch
from fastapi import FastAPI, HTTPException
from insightface.app import FaceAnalysis
from PIL import Image
from pydantic import BaseModel

from models.clip_torch import (
    load_torch_clip as load_clip,  # a torch checkpoint folder (the naive baseline's way)
)

EMOTIONS = ["happy", "sad", "angry", "surprised", "fearful", "disgusted", "neutral"]

face_app = FaceAnalysis(name=os.environ["BASELINE_PACK_DIR"], providers=["CPUExecutionProvider"])
face_app.prepare(ctx_id=-1, det_size=(640, 640))

clip = load_clip(Path(os.environ["BASELINE_CLIP_DIR"]))
with torch.no_grad():
    tokens = clip.tokenizer([f"a photo of a {e} face." for e in EMOTIONS])
    text_features = clip.model.encode_text(tokens)
    text_features /= text_features.norm(dim=-1, keepdim=True)

app = FastAPI()


class AnalyzeRequest(BaseModel):
    image_data: str
    return_all_faces: bool = False


def emotions_for(image: np.ndarray, bbox: np.ndarray) -> dict[str, float]:
    x1, y1, x2, y2 = [int(v) for v in bbox]
    crop = image[max(0, y1) : max(0, y2), max(0, x1) : max(0, x2)]
    pil = Image.fromarray(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB))
    with torch.no_grad():
        features = clip.model.encode_image(clip.preprocess(pil).unsqueeze(0))
        features /= features.norm(dim=-1, keepdim=True)
        probs = (100.0 * features @ text_features.T).softmax(dim=-1)[0]
    return {e: float(p) for e, p in zip(EMOTIONS, probs, strict=True)}


def face_json(image: np.ndarray, face) -> dict:
    x1, y1, x2, y2 = face.bbox.tolist()
    return {
        "face_id": str(uuid.uuid4()),
        "bbox": [x1, y1, x2 - x1, y2 - y1],
        "landmarks": face.kps.tolist(),
        "embedding": face.normed_embedding.tolist(),
        "confidence": float(face.det_score),
        "emotions": emotions_for(image, face.bbox),
        "timestamp": datetime.now(UTC).isoformat(),
    }


@app.post("/analyze")
def analyze(request: AnalyzeRequest):
    data = base64.b64decode(request.image_data)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise HTTPException(400, "invalid image")
    faces = face_app.get(image)
    if not faces:
        raise HTTPException(422, "no face detected")
    faces.sort(key=lambda f: (f.bbox[2] - f.bbox[0]) * (f.bbox[3] - f.bbox[1]), reverse=True)
    if not request.return_all_faces:
        return face_json(image, faces[0])
    all_faces = [face_json(image, f) for f in faces]
    return {**all_faces[0], "faces": all_faces}


@app.get("/health")
def health():
    return {"status": "healthy", "clip_service": "available"}
