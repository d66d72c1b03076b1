"""A Keras 2 HDF5 image classifier to ONNX, with h5py and onnx.helper alone (no tensorflow,
keras or torch): the model_config JSON in the file's attributes says the graph, the
``model_weights`` group holds each layer's arrays.

Only the layers fer's mini-Xception uses are known; anything else (another layer type, a
data format, dilation, an activation) is refused by name, so a file that is not this kind of
model fails here, clearly, before anything is stored. The graph takes the Keras input as it
is (NHWC, ``input``) and transposes once to ONNX's NCHW; the output keeps Keras' name
``probabilities``. Keras' "same" padding puts the odd pixel at the bottom/right (TF's rule),
so every pad is computed from the static spatial size and written explicitly (keras_layers).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from models.keras_layers import KerasConversionError, LayerWriter, refuse

INPUT_NAME = "input"
OUTPUT_NAME = "probabilities"
OPSET = 17
KNOWN_LAYERS = (
    "InputLayer",
    "Conv2D",
    "SeparableConv2D",
    "BatchNormalization",
    "Activation",
    "MaxPooling2D",
    "Add",
    "GlobalAveragePooling2D",
)


__all__ = ["KerasConversionError", "convert_keras_h5"]


def read_model_config(path: Path, h5: Any) -> dict[str, Any]:
    raw = h5.attrs.get("model_config")
    if raw is None or "model_weights" not in h5:
        raise refuse(path, "no Keras model_config/model_weights: not a saved Keras model")
    try:
        config: dict[str, Any] = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise refuse(path, "its model_config is not JSON") from exc
    if config.get("class_name") not in ("Model", "Functional"):
        raise refuse(path, f"a Keras {config.get('class_name')!r}, not a functional Model")
    return config


def convert_keras_h5(path: Path, input_shape: tuple[int, int, int], num_classes: int) -> bytes:
    """The serialised ONNX model of a Keras HDF5 classifier whose input is ``input_shape``
    (H, W, C) and whose output has ``num_classes`` probabilities; refused otherwise."""
    import h5py
    import onnx
    from onnx import TensorProto, helper

    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise refuse(path, "not an HDF5 file (or a truncated one)") from exc
    try:
        with h5:
            config = read_model_config(path, h5)
            writer = LayerWriter(path, h5["model_weights"])
            output = _build(path, writer, config, input_shape)
    except (OSError, KeyError, ValueError, TypeError) as exc:  # a damaged group or dataset
        if isinstance(exc, KerasConversionError):
            raise
        raise refuse(path, f"unreadable Keras model ({type(exc).__name__})") from exc
    if writer.graph.shapes[output] != (num_classes, 1, 1):
        raise refuse(path, f"{writer.graph.shapes[output][0]} outputs, expected {num_classes}")
    height, width, channels = input_shape
    graph = helper.make_graph(
        writer.graph.nodes,
        "keras_h5",
        [
            helper.make_tensor_value_info(
                INPUT_NAME, TensorProto.FLOAT, ["N", height, width, channels]
            )
        ],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", num_classes])],
        writer.graph.initializers,
    )
    graph.node.append(helper.make_node("Identity", [output], [OUTPUT_NAME], name=OUTPUT_NAME))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.producer_name = "facereid models/keras_onnx.py"
    onnx.checker.check_model(model, full_check=True)
    serialised: bytes = model.SerializeToString()
    return serialised


def _build(
    path: Path, writer: LayerWriter, config: dict[str, Any], input_shape: tuple[int, int, int]
) -> str:
    layers = config.get("config", {}).get("layers", [])
    outputs: dict[str, str] = {}
    for layer in layers:
        kind, cfg = layer.get("class_name"), layer.get("config", {})
        name = str(layer.get("name") or cfg.get("name"))
        if kind not in KNOWN_LAYERS:
            raise refuse(path, f"layer {name}: unknown layer type {kind!r}")
        if kind == "InputLayer":
            shape = tuple(cfg.get("batch_input_shape") or cfg.get("batch_shape") or ())[1:]
            if shape != input_shape or cfg.get("dtype", "float32") != "float32":
                raise refuse(path, f"input shape {list(shape)}, expected {list(input_shape)}")
            nchw = writer.graph.node("Transpose", [INPUT_NAME], "input/nchw", perm=[0, 3, 1, 2])
            writer.graph.shapes[nchw] = (input_shape[2], input_shape[0], input_shape[1])
            outputs[name] = nchw
            continue
        nodes = layer.get("inbound_nodes") or []
        if len(nodes) != 1:
            raise refuse(path, f"layer {name}: shared layers are not supported")
        sources = [inbound[0] for inbound in nodes[0]]
        if any(source not in outputs for source in sources):
            raise refuse(path, f"layer {name}: its input is not defined before it")
        outputs[name] = writer.layer(kind, name, cfg, [outputs[s] for s in sources])
    ends = config.get("config", {}).get("output_layers") or []
    if len(ends) != 1 or ends[0][0] not in outputs:
        raise refuse(path, "not a single-output model")
    return outputs[ends[0][0]]
