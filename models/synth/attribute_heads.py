"""The parts both profiles' attribute stand-ins share (``genderage.onnx``, ``1k3d68.onnx``):
the ``bn_data`` input node of the real files and the output heads with the real signatures.

Kept apart from ``insightface_pack`` (the tiny nets) and ``realistic`` (the compute-faithful
ones), so that neither imports the other.
"""

from __future__ import annotations

import numpy as np

from models.synth.onnx_builder import GraphBuilder

LANDMARK_3D_OUTPUTS = 3309  # 1103 points x (x, y, z); the last 68 are the landmarks


def bn_data(g: GraphBuilder, x: str) -> str:
    """A ``bn_data`` BatchNormalization on raw pixels like the real files, so insightface
    feeds them unnormalised pixels (mean 0, std 1)."""
    return g.node(
        "BatchNormalization",
        [
            x,
            g.const(np.ones(3, np.float32), "gamma"),
            g.const(np.zeros(3, np.float32), "beta"),
            g.const(np.full(3, 127.5, np.float32), "mean"),
            g.const(np.full(3, 128.0**2, np.float32), "var"),
        ],
        name="bn_data",
        epsilon=1e-5,
    )


def genderage_head(g: GraphBuilder, features: str, width: int) -> None:
    """``fc1`` [N, 3]: female logit, male logit, age / 100 (squashed into 0..1 so the
    reported ages look like ages; they mean nothing)."""
    logits = g.gemm(features, width, 2, gain=1.0)
    age = g.node("Sigmoid", [g.gemm(features, width, 1, gain=0.5)])
    g.node("Concat", [logits, age], out="fc1", axis=1)


def mean_shape_1103x3() -> np.ndarray:
    """1103 points (the last 68 are the landmarks) on an ellipsoid cap, in [-1, 1] units."""
    t = np.linspace(0.0, 2.0 * np.pi, 1103, endpoint=False)
    pts = np.stack([0.45 * np.cos(t), 0.55 * np.sin(t), 0.2 * np.sin(3 * t)], axis=1)
    return pts.astype(np.float32).reshape(-1)


def landmark_3d_head(g: GraphBuilder, features: str, width: int) -> None:
    """``fc1`` [N, 3309], Tanh-bounded around the mean shape (so the pose fit is sane)."""
    bias = np.arctanh(mean_shape_1103x3())
    f = g.gemm(features, width, LANDMARK_3D_OUTPUTS, gain=0.1, bias=bias)
    g.node("Tanh", [f], out="fc1")
