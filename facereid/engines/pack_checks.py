"""What the InsightFace engine and its attribute models check of each ONNX file of a pack:
the input's shape, how pixels are normalised, and the one error a wrong file raises."""

from __future__ import annotations

import onnx

from facereid.errors import ModelSignatureError
from facereid.faces.onnx_runtime import InferenceSession

REMEDY = "re-run `python -m models pull` or `python -m models synth`"


def signature_error(file: str, problem: str) -> ModelSignatureError:
    return ModelSignatureError(f"{file} {problem}; {REMEDY}.")


def mean_std(model: onnx.ModelProto, default_std: float) -> tuple[float, float]:
    """insightface's rule: a Sub and a Mul (or ``bn_data``) among the first nodes mean the
    graph normalises pixels itself (mean 0, std 1)."""
    names = [node.name for node in model.graph.node[:8]]
    has_sub = any(n.startswith(("Sub", "_minus")) for n in names) or "bn_data" in names[:3]
    has_mul = any(n.startswith(("Mul", "_mul")) for n in names) or "bn_data" in names[:3]
    return (0.0, 1.0) if has_sub and has_mul else (127.5, default_std)


def square_input(session: InferenceSession, file: str, size: int | None = None) -> int:
    """The side S of the file's one [N, 3, S, S] input (``size``, when given, is required)."""
    inputs = session.get_inputs()
    shape = list(inputs[0].shape) if len(inputs) == 1 else []
    if len(shape) != 4 or shape[1] != 3 or not isinstance(shape[2], int) or shape[2] != shape[3]:
        raise signature_error(file, f"must take one [N, 3, S, S] image input, not {shape}")
    if size is not None and shape[2] != size:
        raise signature_error(file, f"must take {size}x{size} inputs, not {shape[2]}x{shape[3]}")
    return int(shape[2])
