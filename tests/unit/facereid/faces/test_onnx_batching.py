"""The SCRFD batch-axis graph edit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from facereid.faces.onnx_batching import make_detector_batchable
from models.synth.insightface_pack import build_detector

CPU = ["CPUExecutionProvider"]


@pytest.fixture(scope="module")
def detector() -> onnx.ModelProto:
    return build_detector(seed=3)


def _dims(value: onnx.ValueInfoProto) -> list[int | str]:
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


def test_edit_gives_every_output_a_batch_axis(detector: onnx.ModelProto) -> None:
    edited = make_detector_batchable(detector)
    onnx.checker.check_model(edited)
    assert _dims(edited.graph.input[0])[0] == "N"
    assert [_dims(o) for o in edited.graph.output] == [
        ["N", "?", k] for k in (1, 1, 1, 4, 4, 4, 10, 10, 10)
    ]
    inits = {i.name: numpy_helper.to_array(i) for i in edited.graph.initializer}
    targets = [inits[n.input[1]].tolist() for n in edited.graph.node if n.op_type == "Reshape"]
    assert sorted(targets) == sorted([[0, -1, k] for k in (1, 1, 1, 4, 4, 4, 10, 10, 10)])
    used = {name for node in edited.graph.node for name in node.input}
    assert {i.name for i in edited.graph.initializer} <= used  # no orphans for ORT to warn on
    # the caller's model is not modified
    assert len(detector.graph.output[0].type.tensor_type.shape.dim) == 2


def test_batch_of_three_equals_three_single_runs(detector: onnx.ModelProto) -> None:
    original = ort.InferenceSession(detector.SerializeToString(), providers=CPU)
    edited = ort.InferenceSession(
        make_detector_batchable(detector).SerializeToString(), providers=CPU
    )
    rng = np.random.default_rng(0)
    batch = rng.uniform(-1, 1, (3, 3, 96, 128)).astype(np.float32)
    batched = edited.run(None, {"input.1": batch})
    assert [o.shape[0] for o in batched] == [3] * 9
    for i in range(3):
        single = original.run(None, {"input.1": batch[i : i + 1]})
        for got, want in zip(batched, single, strict=True):
            # float32, batch of 3 vs 1: ORT picks other conv/GEMM blockings, so sums of ~150
            # terms of size ~1 round differently (a few ulps each); atol covers outputs that
            # cancel to ~0. A layout error would move values by O(1).
            np.testing.assert_allclose(got[i], want, rtol=1e-4, atol=1e-5)


def test_already_batched_detector_is_left_alone(detector: onnx.ModelProto) -> None:
    edited = make_detector_batchable(detector)
    again = make_detector_batchable(edited)
    assert again.SerializeToString() == edited.SerializeToString()


def _one_head(shape_from_constant: bool, last_op: str = "Sigmoid") -> onnx.ModelProto:
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1])]
    inits = []
    shape = np.array([-1, 2], np.int64)
    if shape_from_constant:
        nodes.append(
            helper.make_node("Constant", [], ["shape"], value=numpy_helper.from_array(shape))
        )
    else:
        inits.append(numpy_helper.from_array(shape, "shape"))
    nodes.append(helper.make_node("Reshape", ["t", "shape"], ["r"]))
    nodes.append(
        helper.make_node(last_op, ["r"], ["y"])
        if last_op == "Sigmoid"
        else helper.make_node(last_op, ["r"], ["y"], axis=1)
    )
    graph = helper.make_graph(
        nodes,
        "head",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["?", 2])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def test_reshape_target_from_a_constant_node() -> None:
    edited = make_detector_batchable(_one_head(shape_from_constant=True))
    sess = ort.InferenceSession(edited.SerializeToString(), providers=CPU)
    x = np.arange(2 * 2 * 9, dtype=np.float32).reshape(2, 2, 3, 3)
    out = sess.run(None, {"x": x})[0]
    assert out.shape == (2, 9, 2)
    expected = 1 / (1 + np.exp(-x.transpose(0, 2, 3, 1).reshape(2, -1, 2)))
    # two float32 sigmoids (ORT's MLAS approximation vs numpy's SIMD exp) differ by a few ulps
    np.testing.assert_allclose(out, expected, rtol=1e-5)


def test_head_without_reshape_is_rejected() -> None:
    with pytest.raises(ValueError, match="Reshape"):
        make_detector_batchable(_one_head(shape_from_constant=False, last_op="Softmax"))


def test_edited_file_round_trips(detector: onnx.ModelProto, tmp_path: Path) -> None:
    path = tmp_path / "det.onnx"
    onnx.save(make_detector_batchable(detector), str(path))
    sess = ort.InferenceSession(str(path), providers=CPU)
    assert sess.get_inputs()[0].shape[0] == "N"
    assert [len(o.shape) for o in sess.get_outputs()] == [3] * 9


def test_group_norm_style_batch_one_reshape_is_freed() -> None:
    # torch exports GroupNorm as Reshape([1, G, -1]) -> InstanceNormalization -> Reshape(Shape)
    shape = helper.make_node("Shape", ["x"], ["x_shape"])
    nodes = [
        shape,
        helper.make_node("Reshape", ["x", "gn_shape"], ["g"]),
        helper.make_node("InstanceNormalization", ["g", "ones", "zeros"], ["gn"]),
        helper.make_node("Reshape", ["gn", "x_shape"], ["y0"]),
        helper.make_node("Transpose", ["y0"], ["t"], perm=[0, 2, 3, 1]),
        helper.make_node("Reshape", ["t", "head_shape"], ["y"]),
    ]
    inits = [
        numpy_helper.from_array(np.array([1, 2, -1], np.int64), "gn_shape"),
        numpy_helper.from_array(np.ones(2, np.float32), "ones"),
        numpy_helper.from_array(np.zeros(2, np.float32), "zeros"),
        numpy_helper.from_array(np.array([-1, 4], np.int64), "head_shape"),
    ]
    graph = helper.make_graph(
        nodes,
        "gn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [9, 4])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    original = ort.InferenceSession(model.SerializeToString(), providers=CPU)
    edited = ort.InferenceSession(make_detector_batchable(model).SerializeToString(), providers=CPU)
    x = np.random.default_rng(2).normal(size=(2, 4, 3, 3)).astype(np.float32)
    batched = edited.run(None, {"x": x})[0]
    assert batched.shape == (2, 9, 4)
    for i in range(2):
        np.testing.assert_allclose(
            batched[i], original.run(None, {"x": x[i : i + 1]})[0], rtol=1e-4, atol=1e-5
        )
