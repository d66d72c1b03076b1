"""Give an SCRFD detector's outputs a batch axis, so one session call detects N images.

InsightFace's det_10g ends each head with ``Transpose(0,2,3,1) -> Reshape([-1, k])`` (scores
then ``Sigmoid``), which folds the batch into the rows. Changing each Reshape target to
``[0, -1, k]`` (``0`` copies the batch dim, ``allowzero`` stays 0) keeps every image's rows
apart; the input's batch dim becomes the symbolic ``N``. Nothing else in the graph depends on
the batch size, so the edit does not change any single image's numbers.
"""

from __future__ import annotations

import logging

import numpy as np
import onnx
from onnx import numpy_helper

from facereid.faces.onnx_runtime import InferenceSession

logger = logging.getLogger(__name__)

BATCH_DIM = "N"
# Ops allowed between a head's Reshape and its graph output (elementwise, shape-preserving).
_ELEMENTWISE = {"Sigmoid", "Mul", "Add", "Sub", "Div", "Exp", "Relu", "Tanh", "Identity", "Cast"}


def _is_batched(model: onnx.ModelProto) -> bool:
    first = model.graph.output[0].type.tensor_type.shape
    return len(first.dim) == 3


def _find_head_reshape(
    output: str, producers: dict[str, onnx.NodeProto]
) -> tuple[onnx.NodeProto, list[str]]:
    """The Reshape that feeds ``output`` and the tensors between them (for value_info)."""
    name, path = output, []
    while name in producers:
        node = producers[name]
        path.append(name)
        if node.op_type == "Reshape":
            return node, path
        if node.op_type not in _ELEMENTWISE:
            break
        name = node.input[0]
    raise ValueError(f"detector output {output!r} does not end with a Reshape head")


def _reshape_target(
    model: onnx.ModelProto, name: str
) -> tuple[np.ndarray, onnx.TensorProto | onnx.NodeProto]:
    for init in model.graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init), init
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output[0] == name:
            value = next(a.t for a in node.attribute if a.name == "value")
            return numpy_helper.to_array(value), node
    raise ValueError(f"Reshape target {name!r} is computed in the graph, not a constant")


def _free_hardcoded_batch(model: onnx.ModelProto, heads: list[onnx.NodeProto]) -> None:
    """Other Reshapes with a constant ``[1, ...]`` target (torch's GroupNorm export in the
    ``*_gnkps`` SCRFD variants) get ``0`` there, so they copy the batch dim instead."""
    head_ids = {id(node) for node in heads}
    for node in model.graph.node:
        if node.op_type != "Reshape" or id(node) in head_ids:
            continue
        try:
            target, _ = _reshape_target(model, node.input[1])
        except ValueError:
            continue  # computed from Shape(): already follows the batch
        if target.ndim == 1 and target.size >= 3 and int(target[0]) == 1:
            fixed = target.astype(np.int64).copy()
            fixed[0] = 0
            name = f"{node.input[1]}__batch0"
            model.graph.initializer.append(numpy_helper.from_array(fixed, name))
            node.input[1] = name
            logger.debug("reshape %s: batch 1 -> copied batch dim", node.name)


def make_detector_batchable(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` whose 9 (or 6) SCRFD outputs are ``[N, rows, k]``.

    A detector whose outputs already have a batch axis is returned unchanged (as a copy).
    Raises ``ValueError`` when a head does not end in a constant ``[-1, k]`` Reshape.
    """
    edited = onnx.ModelProto()
    edited.CopyFrom(model)
    graph = edited.graph
    if _is_batched(edited):
        logger.debug("detector outputs already have a batch axis; no edit")
        return edited

    producers = {out: node for node in graph.node for out in node.output}
    existing = {init.name for init in graph.initializer}
    downstream: set[str] = set()
    heads: list[onnx.NodeProto] = []
    for output in graph.output:
        reshape, path = _find_head_reshape(output.name, producers)
        heads.append(reshape)
        downstream.update(path)
        target, _ = _reshape_target(edited, reshape.input[1])
        if target.shape != (2,) or int(target[0]) != -1:
            raise ValueError(
                f"head {output.name!r} reshapes to {target.tolist()}, expected [-1, k]"
            )
        k = int(target[1])
        new_name = f"{reshape.input[1]}__batched"
        if new_name not in existing:
            graph.initializer.append(
                numpy_helper.from_array(np.array([0, -1, k], dtype=np.int64), new_name)
            )
            existing.add(new_name)
        reshape.input[1] = new_name
        if any(a.name == "allowzero" and a.i for a in reshape.attribute):
            raise ValueError(f"head {output.name!r} uses allowzero=1; 0 would not copy the batch")

        dims = output.type.tensor_type.shape.dim
        del dims[:]
        for value in (BATCH_DIM, "?", k):
            dim = dims.add()
            if isinstance(value, int):
                dim.dim_value = value
            else:
                dim.dim_param = value

    _free_hardcoded_batch(edited, heads)

    # The old [-1, k] targets, when nothing else reads them, would only draw ORT warnings.
    used = {name for node in graph.node for name in node.input}
    kept_inits = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept_inits)

    # Shapes recorded for tensors after the edited Reshapes are no longer true.
    kept = [vi for vi in graph.value_info if vi.name not in downstream]
    del graph.value_info[:]
    graph.value_info.extend(kept)

    batch = graph.input[0].type.tensor_type.shape.dim[0]
    batch.Clear()
    batch.dim_param = BATCH_DIM
    logger.debug("made detector batchable: %d heads edited", len(graph.output))
    return edited


def run_batch(
    session: InferenceSession,
    blob: np.ndarray,
    output_names: list[str] | None = None,
    *,
    split: bool = False,
) -> list[np.ndarray]:
    """All outputs for ``blob`` in one call; one call per image when ``split`` or when the
    model's batch dim is fixed to 1 (outputs concatenated along axis 0)."""
    name = session.get_inputs()[0].name
    if not split and not (session.get_inputs()[0].shape[0] == 1 and blob.shape[0] > 1):
        return [np.asarray(o) for o in session.run(output_names, {name: blob})]
    runs = [session.run(output_names, {name: blob[i : i + 1]}) for i in range(blob.shape[0])]
    return [np.concatenate(parts) for parts in zip(*runs, strict=True)]


def batching_is_exact(session: InferenceSession, side: int = 64) -> bool:
    """Probe a batched detector: do two images in one call get their own single-call results?

    A batch of 1 fixed inside an op (not only in the declared shapes) would mix images; the
    caller then runs one image per call rather than return wrong faces.
    """
    shape = session.get_inputs()[0].shape
    side = shape[2] if isinstance(shape[2], int) else side
    # One bright, one dark image: a batch-mixing op (shared statistics) cannot hide.
    probe = np.random.default_rng(0).uniform(0, 1, (2, 3, side, side)).astype(np.float32)
    probe[1] -= 1.0
    try:
        both = run_batch(session, probe)
        singles = [run_batch(session, probe[i : i + 1]) for i in range(2)]
    except Exception as exc:  # e.g. ORT rejects the batch: same remedy as a mismatch
        logger.debug("batched detector probe failed: %s", exc)
        return False
    return all(
        np.allclose(both[j][i], singles[i][j][0], rtol=1e-3, atol=1e-4)
        for i in range(2)
        for j in range(len(both))
    )
