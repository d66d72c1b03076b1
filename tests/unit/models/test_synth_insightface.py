"""The synthetic InsightFace pack: determinism, real signatures, insightface's own routing."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest
from insightface.model_zoo import get_model
from insightface.model_zoo.arcface_onnx import ArcFaceONNX
from insightface.model_zoo.landmark import Landmark
from insightface.model_zoo.scrfd import SCRFD

from models.synth.insightface_pack import (
    DETECTOR_FILE,
    LANDMARK_FILE,
    PACK_FILES,
    RECOGNIZER_FILE,
    write_insightface_pack,
)
from models.synth.onnx_builder import GraphBuilder, flops
from models.synth.realistic import build_realistic_genderage, build_realistic_landmark_3d

CPU = ["CPUExecutionProvider"]


def test_same_seed_gives_byte_identical_files(insightface_pack: Path, tmp_path: Path) -> None:
    paths = write_insightface_pack(tmp_path / "again", seed=0)
    assert [p.name for p in paths] == list(PACK_FILES)
    for path in paths:
        assert path.read_bytes() == (insightface_pack / path.name).read_bytes(), path.name


def test_other_seed_gives_other_weights(insightface_pack: Path, tmp_path: Path) -> None:
    paths = write_insightface_pack(tmp_path, seed=1)
    for path in paths:
        assert path.read_bytes() != (insightface_pack / path.name).read_bytes(), path.name


def test_unknown_profile_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="profile"):
        write_insightface_pack(tmp_path, profile="huge")


def test_insightface_router_recognises_each_file(insightface_pack: Path) -> None:
    det = get_model(str(insightface_pack / DETECTOR_FILE), providers=CPU)
    rec = get_model(str(insightface_pack / RECOGNIZER_FILE), providers=CPU)
    lmk = get_model(str(insightface_pack / LANDMARK_FILE), providers=CPU)
    assert isinstance(det, SCRFD)
    assert det.use_kps and det.fmc == 3 and det._num_anchors == 2 and not det.batched
    assert isinstance(rec, ArcFaceONNX)
    assert (rec.input_mean, rec.input_std) == (127.5, 127.5)  # like the real w600k_r50
    assert rec.input_size == (112, 112)
    assert isinstance(lmk, Landmark)
    assert lmk.taskname == "landmark_2d_106"
    assert (lmk.input_mean, lmk.input_std) == (0.0, 1.0)  # bn_data, like the real 2d106det


def test_signatures_match_buffalo_l(insightface_pack: Path) -> None:
    det = ort.InferenceSession(str(insightface_pack / DETECTOR_FILE), providers=CPU)
    assert [i.name for i in det.get_inputs()] == ["input.1"]
    assert det.get_inputs()[0].shape[:2] == [1, 3]
    assert all(isinstance(d, str) for d in det.get_inputs()[0].shape[2:])
    outs = det.run(None, {"input.1": np.zeros((1, 3, 640, 480), np.float32)})
    rows = [80 * 60 * 2, 40 * 30 * 2, 20 * 15 * 2]
    assert [o.shape for o in outs] == [(r, k) for k in (1, 4, 10) for r in rows]
    rec = ort.InferenceSession(str(insightface_pack / RECOGNIZER_FILE), providers=CPU)
    out = rec.run(None, {"input.1": np.zeros((3, 3, 112, 112), np.float32)})[0]
    assert out.shape == (3, 512)
    lmk = ort.InferenceSession(str(insightface_pack / LANDMARK_FILE), providers=CPU)
    out = lmk.run(None, {"data": np.full((2, 3, 192, 192), 90, np.float32)})[0]
    assert out.shape == (2, 212) and np.abs(out).max() < 1.0


def test_detector_output_ranges(insightface_pack: Path, t1_path: Path) -> None:
    det = get_model(str(insightface_pack / DETECTOR_FILE), providers=CPU)
    t1 = cv2.imread(str(t1_path))
    assert t1 is not None
    img = cv2.resize(t1, (640, 640))
    blob = det._prepare_input_blob(img, (640, 640))
    outs = det.session.run(None, {"input.1": blob})
    for boxes in outs[3:6]:
        assert boxes.min() >= 1.5 and boxes.max() <= 4.0  # stride units
    for kps in outs[6:9]:
        eyes_y, mouth_y = kps[:, 1], kps[:, 7]
        assert (eyes_y < 0).all() and (mouth_y > 0).all()  # eyes above, mouth below centre


def test_detector_finds_a_plausible_handful_on_t1(insightface_pack: Path, t1_path: Path) -> None:
    det = get_model(str(insightface_pack / DETECTOR_FILE), providers=CPU)
    det.prepare(-1, input_size=(640, 640))
    bboxes, kpss = det.detect(cv2.imread(str(t1_path)))
    assert 1 <= len(bboxes) <= 32
    sides = np.minimum(bboxes[:, 2] - bboxes[:, 0], bboxes[:, 3] - bboxes[:, 1])
    assert (sides >= 20).all()
    inside_x = (kpss[:, :, 0] > bboxes[:, None, 0]) & (kpss[:, :, 0] < bboxes[:, None, 2])
    inside_y = (kpss[:, :, 1] > bboxes[:, None, 1]) & (kpss[:, :, 1] < bboxes[:, None, 3])
    assert (inside_x & inside_y).all()


def test_flops_counts_conv_and_gemm_macs() -> None:
    g = GraphBuilder(0)
    f = g.conv("x", 3, 4, 3, stride=1)  # 8x8 out, 4 channels, 3*3*3 per output
    f = g.node("Flatten", [f], axis=1)
    f = g.gemm(f, 4 * 8 * 8, 10, out="y")
    model = g.model([("x", ["N", 3, 8, 8])], [("y", ["N", 10])], "probe")
    assert flops(model, [1, 3, 8, 8]) == 8 * 8 * 4 * 27 + 256 * 10
    assert flops(model, [2, 3, 8, 8]) == 2 * (8 * 8 * 4 * 27 + 256 * 10)


def test_tiny_pack_is_tiny(insightface_pack: Path) -> None:
    assert flops(insightface_pack / DETECTOR_FILE, [1, 3, 640, 640]) < 1e8
    assert flops(insightface_pack / RECOGNIZER_FILE, [1, 3, 112, 112]) < 1e7


@pytest.mark.testdata
def test_detector_finds_a_handful_on_real_photos(
    insightface_pack: Path, shared_faces: Path
) -> None:
    det = get_model(str(insightface_pack / DETECTOR_FILE), providers=CPU)
    det.prepare(-1, input_size=(640, 640))
    photos = sorted(shared_faces.glob("identities/*/*.jp*g")) + sorted(
        shared_faces.glob("scenes/*.jp*g")
    )
    assert photos
    for photo in photos:
        bboxes, _ = det.detect(cv2.imread(str(photo)))
        assert 1 <= len(bboxes) <= 32, photo.name
        sides = np.minimum(bboxes[:, 2] - bboxes[:, 0], bboxes[:, 3] - bboxes[:, 1])
        assert (sides >= 20).all(), photo.name


def test_realistic_attribute_stand_ins_have_the_real_signatures_and_real_sized_compute() -> None:
    genderage, landmark_3d = build_realistic_genderage(0), build_realistic_landmark_3d(0)
    assert 0.01e9 < flops(genderage, [1, 3, 96, 96]) < 0.1e9  # a MobileNet-0.25-class net
    assert 2e9 < flops(landmark_3d, [1, 3, 192, 192]) < 4e9  # a ResNet-34 at 192 px
    for model, side, width in ((genderage, 96, 3), (landmark_3d, 192, 3309)):
        assert model.graph.node[0].name == "bn_data"  # insightface then feeds raw pixels
        session = ort.InferenceSession(model.SerializeToString(), providers=CPU)
        [out] = session.run(None, {"data": np.zeros((2, 3, side, side), np.float32)})
        assert out.shape == (2, width) and np.isfinite(out).all()
