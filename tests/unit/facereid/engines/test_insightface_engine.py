"""InsightFaceEngine: fake sessions for the wiring, real sessions for parity with insightface."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from facereid.config import Settings
from facereid.engines.insightface_engine import InsightFaceEngine
from facereid.errors import ModelNotAvailableError, ModelSignatureError
from facereid.faces.records import DetectedFace, ModelInfo

INFO = ModelInfo(engine="insightface", name="buffalo_l", source="synthetic", embedding_dim=512)
DET_WIDTHS = (1, 1, 1, 4, 4, 4, 10, 10, 10)


@dataclass
class FakeValueInfo:
    name: str
    shape: list[Any]


@dataclass
class FakeSession:
    inputs: list[FakeValueInfo]
    outputs: list[FakeValueInfo]
    respond: Callable[[np.ndarray], list[np.ndarray]]
    calls: list[np.ndarray] = field(default_factory=list)

    def get_inputs(self) -> list[FakeValueInfo]:
        return self.inputs

    def get_outputs(self) -> list[FakeValueInfo]:
        return self.outputs

    def run(self, names: list[str] | None, feeds: dict[str, Any]) -> list[np.ndarray]:
        (blob,) = feeds.values()
        self.calls.append(blob)
        return self.respond(blob)


def fake_detector(
    faces: dict[int, list[tuple[int, float, list[float]]]],
    size: int,
    widths: tuple[int, ...] = DET_WIDTHS,
) -> FakeSession:
    """``faces[image] = [(stride-8 row, score, distances in strides)]``."""
    rows = [(size // s) ** 2 * 2 for s in (8, 16, 32)]

    def respond(blob: np.ndarray) -> list[np.ndarray]:
        n = blob.shape[0]
        outs = [np.zeros((n, rows[i % 3], k), np.float32) for i, k in enumerate(widths)]
        for i in range(3, 6):
            outs[i][:] = 1.0
        for image, entries in faces.items():
            for row, score, dist in entries:
                outs[0][image, row, 0] = score
                outs[3][image, row] = dist
        return outs

    return FakeSession(
        [FakeValueInfo("input.1", ["N", 3, "?", "?"])],
        [FakeValueInfo(f"o{i}", ["N", "?", k]) for i, k in enumerate(widths)],
        respond,
    )


def fake_recognizer(dim: int = 512) -> FakeSession:
    def respond(blob: np.ndarray) -> list[np.ndarray]:
        out = np.zeros((blob.shape[0], dim), np.float32)
        out[:, 0], out[:, 1] = 3.0, 4.0
        return [out]

    return FakeSession(
        [FakeValueInfo("input.1", ["N", 3, 112, 112])], [FakeValueInfo("683", ["N", dim])], respond
    )


def fake_landmarker() -> FakeSession:
    return FakeSession(
        [FakeValueInfo("data", ["N", 3, 192, 192])],
        [FakeValueInfo("fc1", ["N", 212])],
        lambda blob: [np.zeros((blob.shape[0], 212), np.float32)],
    )


def fake_attribute_model(size: int, width: int) -> FakeSession:
    """genderage (96, 3) or 1k3d68 (192, 3309): zeros of the real shapes."""
    return FakeSession(
        [FakeValueInfo("data", ["N", 3, size, size])],
        [FakeValueInfo("fc1", ["N", width])],
        lambda blob: [np.zeros((blob.shape[0], width), np.float32)],
    )


def make_engine(
    insightface_pack: Path,
    settings: Settings,
    det: FakeSession,
    rec: FakeSession | None = None,
    lmk: FakeSession | None = None,
    **kwargs: Any,
) -> InsightFaceEngine:
    sessions = {
        "w600k_r50.onnx": rec or fake_recognizer(),
        "2d106det.onnx": lmk or fake_landmarker(),
        "genderage.onnx": fake_attribute_model(96, 3),
        "1k3d68.onnx": fake_attribute_model(192, 3309),
    }

    def factory(model: bytes | Path, *, intra_op_threads: int = 0) -> FakeSession:
        return det if isinstance(model, bytes) else sessions[Path(model).name]

    kwargs.setdefault("verify_batching", False)  # these fakes answer by batch position
    return InsightFaceEngine(insightface_pack, INFO, settings, factory, **kwargs)


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"det_size": 64, "min_face_size": 0, "max_faces": 32}
    values.update(overrides)
    return Settings(**values)


def test_detect_runs_one_call_for_mixed_sizes(insightface_pack: Path) -> None:
    # image 0 (64x64, scale 1): location x=2, y=3 -> centre (16, 24), anchor 0 -> row 52
    # image 1 (128x64 tall, scale 0.5): location x=4, y=4 -> centre (32, 32), row 72
    det = fake_detector({0: [(52, 0.9, [1, 1, 1, 1])], 1: [(72, 0.8, [1, 1, 1, 1])]}, 64)
    lmk = fake_landmarker()
    engine = make_engine(insightface_pack, settings(), det, lmk=lmk)
    images = [
        np.full((64, 64, 3), (10, 20, 30), np.uint8),
        np.zeros((128, 64, 3), np.uint8),
        np.zeros((32, 64, 3), np.uint8),
    ]
    faces = engine.detect(images)
    assert len(det.calls) == 1 and det.calls[0].shape == (3, 3, 64, 64)
    np.testing.assert_allclose(det.calls[0][0, 0], (30 - 127.5) / 128)  # RGB order, SCRFD norm
    assert [len(f) for f in faces] == [1, 1, 0]
    np.testing.assert_allclose(faces[0][0].bbox, [8, 16, 24, 32])
    np.testing.assert_allclose(faces[1][0].bbox, [48, 48, 80, 80])
    assert faces[0][0].score == pytest.approx(0.9)
    np.testing.assert_allclose(
        np.asarray(faces[1][0].kps), [[64, 64]] * 5
    )  # zero offsets -> centre
    assert len(lmk.calls) == 1 and lmk.calls[0].shape == (2, 3, 192, 192)
    np.testing.assert_allclose(np.asarray(faces[1][0].landmarks_106), [[64, 64]] * 106, atol=1e-3)


def test_detect_threshold_min_size_and_max_faces(insightface_pack: Path) -> None:
    det = fake_detector(
        {
            0: [
                (0, 0.45, [2, 2, 2, 2]),  # below det_thresh
                (26, 0.9, [0.5, 0.5, 0.5, 0.5]),  # 8 px: below min_face_size
                (36, 0.7, [2, 2, 2, 2]),  # x=2, y=2: 32 px, off-centre
                (70, 0.6, [2, 2, 2, 2]),  # x=3, y=4: 32 px, nearer the centre
                (126, 0.8, [2, 2, 2, 2]),  # x=7, y=7: 32 px, far corner, partly outside the image
            ]
        },
        64,
    )
    engine = make_engine(insightface_pack, settings(min_face_size=20, max_faces=2), det)
    (faces,) = engine.detect([np.zeros((64, 64, 3), np.uint8)])
    # Equal areas inside the image: the score decides; the corner box is cut by the edge.
    assert [f.score for f in faces] == pytest.approx([0.7, 0.6])


def test_detect_empty_batch(insightface_pack: Path) -> None:
    det = fake_detector({}, 64)
    assert make_engine(insightface_pack, settings(), det).detect([]) == []
    assert det.calls == []


def test_embed_one_call_l2_normalised(insightface_pack: Path) -> None:
    rec = fake_recognizer()
    engine = make_engine(insightface_pack, settings(), fake_detector({}, 64), rec=rec)
    template = np.array(
        [
            [38.2946, 51.6963],
            [73.5318, 51.5014],
            [56.0252, 71.7366],
            [41.5493, 92.3655],
            [70.7299, 92.2041],
        ],
        np.float32,
    )
    face = DetectedFace(bbox=np.array([0, 0, 112, 112], np.float32), score=0.9, kps=template)
    image = np.full((112, 112, 3), 255, np.uint8)
    emb = engine.embed([image, image, image], [face, face, face])
    assert len(rec.calls) == 1 and rec.calls[0].shape == (3, 3, 112, 112)
    np.testing.assert_allclose(rec.calls[0][:, :, 10:100, 10:100], 1.0)  # (255-127.5)/127.5
    assert emb.dtype == np.float32 and emb.shape == (3, 512)
    np.testing.assert_allclose(emb[:, :2], [[0.6, 0.8]] * 3, rtol=1e-6)
    assert engine.embed([], []).shape == (0, 512)
    with pytest.raises(ValueError):
        engine.embed([image], [])


def test_wrong_detector_outputs_are_a_signature_error(insightface_pack: Path) -> None:
    det = fake_detector({}, 64, widths=(1, 1, 1, 4, 4, 4))
    with pytest.raises(ModelSignatureError, match=r"9 outputs.*python -m models synth"):
        make_engine(insightface_pack, settings(), det)


def test_fixed_detector_size_must_match_det_size(insightface_pack: Path) -> None:
    det = fake_detector({}, 64)
    det.inputs[0].shape = [1, 3, 640, 640]
    with pytest.raises(ModelSignatureError, match="DET_SIZE=64"):
        make_engine(insightface_pack, settings(), det)


def test_wrong_embedding_size_is_a_signature_error(insightface_pack: Path) -> None:
    with pytest.raises(ModelSignatureError, match=r"w600k_r50.onnx.*\[N, 512\]"):
        make_engine(insightface_pack, settings(), fake_detector({}, 64), rec=fake_recognizer(128))


def test_non_detector_file_is_a_signature_error(insightface_pack: Path, tmp_path: Path) -> None:
    for name in ("w600k_r50.onnx", "2d106det.onnx"):
        (tmp_path / name).write_bytes((insightface_pack / name).read_bytes())
    (tmp_path / "det_10g.onnx").write_bytes((insightface_pack / "w600k_r50.onnx").read_bytes())
    with pytest.raises(ModelSignatureError, match="det_10g.onnx is not an SCRFD detector"):
        make_engine(tmp_path, settings(), fake_detector({}, 64))


def test_missing_file_is_model_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ModelNotAvailableError, match="python -m models pull"):
        make_engine(tmp_path, settings(), fake_detector({}, 64))


def mean_driven_detector(mix_batch: bool) -> FakeSession:
    """A face at row 0 when the image is bright; ``mix_batch`` looks at the whole batch, like
    a model with batch 1 fixed inside an op."""
    base = fake_detector({}, 64)

    def respond(blob: np.ndarray) -> list[np.ndarray]:
        outs = base.respond(blob[:, :1, :1, :1] * 0)  # the zero-face layout for this batch
        for i in range(blob.shape[0]):
            brightness = blob.mean() if mix_batch else blob[i].mean()
            outs[0][i, 0, 0] = 0.9 if brightness > 0 else 0.1
        return outs

    return FakeSession(base.inputs, base.outputs, respond)


def test_exact_batching_detector_keeps_one_call(insightface_pack: Path) -> None:
    det = mean_driven_detector(mix_batch=False)
    engine = make_engine(insightface_pack, settings(), det, verify_batching=True)
    det.calls.clear()
    images = [np.full((64, 64, 3), v, np.uint8) for v in (255, 0, 255)]
    assert [len(f) for f in engine.detect(images)] == [1, 0, 1]
    assert [c.shape[0] for c in det.calls] == [3]


def test_batch_mixing_detector_falls_back_to_one_image_per_call(
    insightface_pack: Path, caplog: pytest.LogCaptureFixture
) -> None:
    det = mean_driven_detector(mix_batch=True)
    with caplog.at_level(logging.WARNING):
        engine = make_engine(insightface_pack, settings(), det, verify_batching=True)
    assert "one image per call" in caplog.text
    det.calls.clear()
    images = [np.full((64, 64, 3), v, np.uint8) for v in (255, 0, 255)]
    assert [len(f) for f in engine.detect(images)] == [1, 0, 1]  # each image's own answer
    assert [c.shape[0] for c in det.calls] == [1, 1, 1]


def test_fallback_file_names(insightface_pack: Path, tmp_path: Path) -> None:
    for src, dst in (("det_10g.onnx", "det_500m.onnx"), ("w600k_r50.onnx", "w600k_mbf.onnx")):
        (tmp_path / dst).write_bytes((insightface_pack / src).read_bytes())
    engine = InsightFaceEngine(tmp_path, INFO, Settings(det_size=64))
    assert len(engine.detect([np.zeros((64, 64, 3), np.uint8)])) == 1
    assert engine.embed([], []).shape == (0, 512)
