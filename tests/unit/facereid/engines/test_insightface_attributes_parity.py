"""Parity: the engine's batched age, gender and pose against insightface's own FaceAnalysis
(its ``Attribute`` and ``Landmark`` models) on the same synthetic genderage.onnx and
1k3d68.onnx and the same photo."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from insightface.app import FaceAnalysis

from facereid.config import Settings
from facereid.engines.insightface_engine import InsightFaceEngine
from facereid.faces.records import BGRImage, ModelInfo

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")

INFO = ModelInfo(engine="insightface", name="buffalo_l", source="synthetic", embedding_dim=512)


@pytest.fixture(scope="module")
def reference(insightface_pack: Path) -> FaceAnalysis:
    app = FaceAnalysis(name=str(insightface_pack), providers=["CPUExecutionProvider"])
    app.prepare(ctx_id=-1, det_size=(640, 640))
    return app


@pytest.fixture(scope="module")
def engine(insightface_pack: Path) -> InsightFaceEngine:
    settings = Settings(det_size=640, min_face_size=0, max_faces=0, ort_intra_op_threads=1)
    return InsightFaceEngine(insightface_pack, INFO, settings)


def read(path: Path) -> BGRImage:
    image = cv2.imread(str(path))
    assert image is not None
    return np.asarray(image, dtype=np.uint8)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return float(w * h / union)


def test_age_gender_pose_match_face_analysis(
    engine: InsightFaceEngine, reference: FaceAnalysis, t1_path: Path
) -> None:
    t1 = read(t1_path)
    images = [
        t1,
        np.asarray(cv2.resize(t1, None, fx=0.55, fy=0.55), dtype=np.uint8),
    ]  # two images: one batched call
    detections = engine.detect(images)
    pairs = [(img, f) for img, fs in zip(images, detections, strict=True) for f in fs]
    attrs = engine.attributes([p[0] for p in pairs], [p[1] for p in pairs])
    assert len(attrs) == len(pairs) > 2
    theirs = {id(img): reference.get(img) for img in images}
    genders = set()
    for (image, face), ours in zip(pairs, attrs, strict=True):
        ref = max(theirs[id(image)], key=lambda r: iou(face.bbox, r.bbox))
        assert iou(face.bbox, ref.bbox) >= 0.99
        assert ours.age == int(ref.age)
        assert ours.gender == ("male" if int(ref.gender) == 1 else "female")
        assert ours.gender_probability is not None and 0.5 <= ours.gender_probability <= 1.0
        assert ours.pose is not None and ours.reason is None
        # float32 model outputs through one lstsq: angles agree to float32 precision of the
        # 68 points (~1e-4 relative), so 1e-3 relative plus 1e-3 degrees absolute
        np.testing.assert_allclose(
            [ours.pose.pitch, ours.pose.yaw, ours.pose.roll], ref.pose, rtol=1e-3, atol=1e-3
        )
        genders.add(ours.gender)
    ages = {a.age for a in attrs}
    assert len(ages) > 1  # faces differ: a constant would not pass for the model's output


def test_a_pack_without_attribute_models_says_why(
    insightface_pack: Path, tmp_path: Path, t1_path: Path
) -> None:
    for name in ("det_10g.onnx", "w600k_r50.onnx"):
        (tmp_path / name).write_bytes((insightface_pack / name).read_bytes())
    settings = Settings(det_size=640, min_face_size=0, max_faces=0, ort_intra_op_threads=1)
    bare = InsightFaceEngine(tmp_path, INFO, settings)
    t1 = read(t1_path)
    (faces,) = bare.detect([t1])
    (attrs,) = bare.attributes([t1], faces[:1])
    assert attrs.age is None and attrs.gender is None and attrs.pose is None
    assert attrs.reason is not None and "genderage.onnx" in attrs.reason
    assert "1k3d68.onnx" in attrs.reason
