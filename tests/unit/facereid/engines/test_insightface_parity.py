"""Parity: InsightFaceEngine (batched) against insightface's own FaceAnalysis on the same
synthetic files, and batched against unbatched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from insightface.app import FaceAnalysis

from facereid.config import Settings
from facereid.engines.insightface_engine import InsightFaceEngine
from facereid.faces.records import DetectedFace, ModelInfo

# insightface calls skimage's deprecated SimilarityTransform.estimate
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")

INFO = ModelInfo(engine="insightface", name="buffalo_l", source="synthetic", embedding_dim=512)


@pytest.fixture(scope="module")
def reference(insightface_pack: Path) -> FaceAnalysis:
    app = FaceAnalysis(name=str(insightface_pack), providers=["CPUExecutionProvider"])
    app.prepare(ctx_id=-1, det_size=(640, 640))  # one size; 2.1 defaults to two
    return app


@pytest.fixture(scope="module")
def engine(insightface_pack: Path) -> InsightFaceEngine:
    settings = Settings(det_size=640, min_face_size=0, max_faces=0, ort_intra_op_threads=1)
    return InsightFaceEngine(insightface_pack, INFO, settings)


@pytest.fixture(scope="module")
def images(t1_path: Path) -> list[np.ndarray]:
    t1 = cv2.imread(str(t1_path))
    assert t1 is not None
    return [
        t1,
        np.ascontiguousarray(t1[60:700, 150:1100]),
        cv2.resize(t1, None, fx=0.55, fy=0.55),
        cv2.copyMakeBorder(t1, 40, 300, 90, 10, cv2.BORDER_CONSTANT, value=(90, 120, 150)),
    ]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return float(w * h / union)


def assert_same_faces(ours: list[DetectedFace], embeddings: np.ndarray, theirs: list[Any]) -> None:
    assert len(ours) == len(theirs) > 0
    for face, emb in zip(ours, embeddings, strict=True):
        ref = max(theirs, key=lambda r: iou(face.bbox, r.bbox))
        assert iou(face.bbox, ref.bbox) >= 0.99
        assert abs(face.score - float(ref.det_score)) <= 1e-4
        assert face.kps is not None and np.abs(face.kps - ref.kps).max() <= 0.5
        assert face.landmarks_106 is not None
        assert np.abs(face.landmarks_106 - ref.landmark_2d_106).max() <= 0.5
        assert float(emb @ ref.normed_embedding) >= 0.9999


def embed_all(
    engine: InsightFaceEngine, images: list[np.ndarray], faces: list[list[DetectedFace]]
) -> list[np.ndarray]:
    pairs = [(img, f) for img, fs in zip(images, faces, strict=True) for f in fs]
    flat = engine.embed([p[0] for p in pairs], [p[1] for p in pairs])
    counts = np.cumsum([len(fs) for fs in faces])[:-1]
    return list(np.split(flat, counts))


def test_t1_matches_face_analysis(
    engine: InsightFaceEngine, reference: FaceAnalysis, images: list[np.ndarray]
) -> None:
    faces = engine.detect(images[:1])
    assert_same_faces(faces[0], embed_all(engine, images[:1], faces)[0], reference.get(images[0]))


def test_mixed_batch_matches_face_analysis_per_image(
    engine: InsightFaceEngine, reference: FaceAnalysis, images: list[np.ndarray]
) -> None:
    faces = engine.detect(images)
    embeddings = embed_all(engine, images, faces)
    for image, ours, embs in zip(images, faces, embeddings, strict=True):
        assert_same_faces(ours, embs, reference.get(image))


def test_batched_equals_unbatched(engine: InsightFaceEngine, images: list[np.ndarray]) -> None:
    batched = engine.detect(images)
    batched_embs = embed_all(engine, images, batched)
    for i, image in enumerate(images):
        (single,) = engine.detect([image])
        assert len(single) == len(batched[i])
        for a, b in zip(single, batched[i], strict=True):
            np.testing.assert_allclose(a.bbox, b.bbox, atol=1e-3)
            # float32 detector scores, batch vs single: other conv kernels, a few ulps apart
            # before the sigmoid; relative so it holds on any x86 CPU's SIMD width
            assert a.score == pytest.approx(b.score, rel=1e-4)
        single_embs = engine.embed([image] * len(single), single)
        np.testing.assert_allclose(single_embs, batched_embs[i], atol=1e-5)


def test_distinct_detections_have_distinct_embeddings(
    engine: InsightFaceEngine, images: list[np.ndarray]
) -> None:
    (faces,) = engine.detect(images[:1])
    embs = engine.embed([images[0]] * len(faces), faces)
    sims = embs @ embs.T
    np.testing.assert_allclose(np.diag(sims), 1.0, atol=1e-5)
    off_diagonal = sims[~np.eye(len(faces), dtype=bool)]
    assert np.abs(off_diagonal).mean() < 0.3  # the stand-in recogniser still separates crops


def test_max_faces_keeps_insightface_choice(
    insightface_pack: Path, reference: FaceAnalysis, images: list[np.ndarray]
) -> None:
    settings = Settings(det_size=640, min_face_size=0, max_faces=2, ort_intra_op_threads=1)
    capped = InsightFaceEngine(insightface_pack, INFO, settings)
    (ours,) = capped.detect(images[:1])
    theirs, _ = reference.det_model.detect(images[0], max_num=2, metric="default")
    assert len(ours) == 2 < len(reference.get(images[0]))
    np.testing.assert_allclose([f.bbox for f in ours], theirs[:, :4], atol=1e-3)
