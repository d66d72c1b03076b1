"""A small, deterministic ONNX graph builder and a MAC counter for the synthetic models.

Weights come from a seeded ``numpy`` generator and node names from a counter, so the same
seed always serialises to the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, shape_inference

OPSET = 13
IR_VERSION = 8  # readable by every onnxruntime the project supports

Dim = int | str


class GraphBuilder:
    """Appends nodes with names like ``Conv_0`` (the torch exporter's style)."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def _name(self, prefix: str) -> str:
        name = f"{prefix}_{self._count}"
        self._count += 1
        return name

    def const(self, value: np.ndarray, prefix: str = "const") -> str:
        name = self._name(prefix)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(
        self,
        op: str,
        inputs: Sequence[str],
        *,
        name: str | None = None,
        out: str | None = None,
        **attrs: Any,
    ) -> str:
        node_name = name or self._name(op)
        output = out or f"{node_name}_out"
        self.nodes.append(helper.make_node(op, list(inputs), [output], name=node_name, **attrs))
        return output

    def conv(
        self,
        x: str,
        c_in: int,
        c_out: int,
        k: int,
        *,
        stride: int = 1,
        pad: int | None = None,
        gain: float = 1.0,
        bias: float | np.ndarray = 0.0,
        out: str | None = None,
    ) -> str:
        """Conv with He-scaled seeded weights (``gain`` scales them)."""
        std = gain * np.sqrt(2.0 / (c_in * k * k))
        w = (self.rng.standard_normal((c_out, c_in, k, k)) * std).astype(np.float32)
        b = np.broadcast_to(np.asarray(bias, dtype=np.float32), (c_out,)).copy()
        p = (k - 1) // 2 if pad is None else pad
        return self.node(
            "Conv",
            [x, self.const(w, "W"), self.const(b, "B")],
            out=out,
            kernel_shape=[k, k],
            strides=[stride, stride],
            pads=[p, p, p, p],
        )

    def gemm(
        self,
        x: str,
        n_in: int,
        n_out: int,
        *,
        gain: float = 1.0,
        bias: np.ndarray | None = None,
        out: str | None = None,
    ) -> str:
        w = (self.rng.standard_normal((n_out, n_in)) * gain / np.sqrt(n_in)).astype(np.float32)
        b = np.zeros(n_out, np.float32) if bias is None else bias.astype(np.float32)
        return self.node("Gemm", [x, self.const(w, "W"), self.const(b, "B")], out=out, transB=1)

    def scalar(self, value: float) -> str:
        return self.const(np.array(value, dtype=np.float32), "c")

    def model(
        self,
        inputs: Sequence[tuple[str, Sequence[Dim]]],
        outputs: Sequence[tuple[str, Sequence[Dim]]],
        graph_name: str,
    ) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes,
            graph_name,
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in inputs],
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in outputs],
            initializer=self.initializers,
        )
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="facereid-synth"
        )
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model)
        return model


def flops(path: str | Path | onnx.ModelProto, input_shape: Sequence[int]) -> int:
    """Multiply-accumulates of the Conv, Gemm and MatMul nodes for one input shape.

    Counts MACs, the convention behind InsightFace's published "GFLOPs" (SCRFD-10G,
    ArcFace R50 6.3G). Shapes come from ONNX shape inference with the first input fixed.
    """
    model = path if isinstance(path, onnx.ModelProto) else onnx.load(str(path))
    model = onnx.ModelProto.FromString(model.SerializeToString())
    dims = model.graph.input[0].type.tensor_type.shape.dim
    for dim, value in zip(dims, input_shape, strict=True):
        dim.Clear()
        dim.dim_value = int(value)
    inferred = shape_inference.infer_shapes(model, strict_mode=True)
    shapes: dict[str, list[int]] = {}
    for info in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        shapes[info.name] = [d.dim_value for d in info.type.tensor_type.shape.dim]
    for init in inferred.graph.initializer:
        shapes[init.name] = list(init.dims)
    total = 0
    for node in inferred.graph.node:
        if node.op_type == "Conv":
            w = shapes[node.input[1]]  # c_out, c_in/group, kh, kw
            out = shapes[node.output[0]]
            total += int(np.prod(out)) * int(np.prod(w[1:]))
        elif node.op_type in ("Gemm", "MatMul"):
            a = shapes[node.input[0]]
            out = shapes[node.output[0]]
            trans_a = any(at.name == "transA" and at.i for at in node.attribute)
            k = a[-2] if trans_a else a[-1]
            total += int(np.prod(out)) * k
    return total
