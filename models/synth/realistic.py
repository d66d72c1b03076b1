"""Compute-faithful stand-ins for benchmarks: same signatures, real-model-sized compute.

- Recogniser: IResNet-50 layout (stem 3x3/64, stages of 3/4/14/3 basic blocks at 64/128/256/512
  channels, each stage halving the resolution, FC 512x7x7 -> 512) at 112x112: ~6.3 GMACs.
- Detector: a ResNet-style backbone to stride 32, an FPN neck and shared 3x3 heads on
  strides 8/16/32, sized to ~10 GMACs at 640x640 (SCRFD-10G is quoted at 10 GFLOPs(MACs)).
- Attributes (issue 24), sized from the real files, whose architectures are not published
  with the pack: ``genderage.onnx`` (1.3 MB, a MobileNet-0.25-class net) as a narrow ResNet at
  96x96, ~0.02 GMACs; ``1k3d68.onnx`` (137 MB) as a ResNet-34 layout at 192x192, ~2.7 GMACs.

Weights are seeded random (He-scaled, residual branches damped), so the outputs mean nothing;
use these files for speed measurements only. The recogniser file is ~170 MB.
"""

from __future__ import annotations

import numpy as np
import onnx

from models.synth.attribute_heads import bn_data, genderage_head, landmark_3d_head
from models.synth.onnx_builder import GraphBuilder
from models.synth.scrfd_heads import EMBEDDING_DIM, STRIDES, add_scrfd_heads, role_seed

IRESNET50_STAGES = ((64, 3), (128, 4), (256, 14), (512, 3))
# Detector widths per backbone stage (strides 4, 8, 16, 32), blocks per stage, neck width.
DET_STAGES = ((48, 2), (80, 3), (160, 3), (288, 2))
DET_NECK = 88
GENDERAGE_STAGES = ((16, 1), (32, 2), (64, 2), (128, 1))  # at 96x96 after a stride-2 stem
LANDMARK_3D_STAGES = ((64, 3), (128, 4), (256, 6), (512, 3))  # ResNet-34, stride-4 stem


def _prelu(g: GraphBuilder, x: str, channels: int) -> str:
    return g.node("PRelu", [x, g.const(np.full((channels, 1, 1), 0.25, np.float32), "slope")])


def _basic_block(
    g: GraphBuilder, x: str, c_in: int, c_out: int, stride: int, *, iresnet: bool
) -> str:
    """IResNet puts the stride on the second conv; a classic ResNet on the first."""
    s1, s2 = (1, stride) if iresnet else (stride, 1)
    y = g.conv(x, c_in, c_out, 3, stride=s1)
    y = _prelu(g, y, c_out) if iresnet else g.node("Relu", [y])
    y = g.conv(y, c_out, c_out, 3, stride=s2, gain=0.2)
    shortcut = (
        x
        if (c_in == c_out and stride == 1)
        else g.conv(x, c_in, c_out, 1, stride=stride, pad=0, gain=0.5)
    )
    out = g.node("Add", [y, shortcut])
    return out if iresnet else g.node("Relu", [out])


def build_realistic_recognizer(seed: int = 0) -> onnx.ModelProto:
    g = GraphBuilder(role_seed(seed, 12))
    x = "input.1"
    f = _prelu(g, g.conv(x, 3, 64, 3), 64)
    c_in = 64
    for c_out, blocks in IRESNET50_STAGES:
        for i in range(blocks):
            f = _basic_block(g, f, c_in, c_out, 2 if i == 0 else 1, iresnet=True)
            c_in = c_out
    f = g.node("Flatten", [f], axis=1)
    emb = g.gemm(f, 512 * 7 * 7, EMBEDDING_DIM, out="683")
    return g.model([(x, ["N", 3, 112, 112])], [(emb, ["N", EMBEDDING_DIM])], "iresnet50_synth")


def build_realistic_detector(seed: int = 0) -> onnx.ModelProto:
    g = GraphBuilder(role_seed(seed, 11))
    x = "input.1"
    stem = DET_STAGES[0][0]
    f = g.node("Relu", [g.conv(x, 3, stem // 2, 3, stride=2)])  # stride 2
    f = g.node("Relu", [g.conv(f, stem // 2, stem, 3, stride=2)])  # stride 4
    c_in = stem
    levels: list[str] = []
    for i, (c_out, blocks) in enumerate(DET_STAGES):
        for b in range(blocks):
            f = _basic_block(g, f, c_in, c_out, 2 if (b == 0 and i > 0) else 1, iresnet=False)
            c_in = c_out
        if i > 0:
            levels.append(g.conv(f, c_out, DET_NECK, 1, pad=0))  # lateral, strides 8/16/32
    for i in range(len(levels) - 2, -1, -1):  # top-down FPN
        up = g.node(
            "Resize",
            [levels[i + 1], "", g.const(np.array([1, 1, 2, 2], np.float32), "scales")],
            mode="nearest",
        )
        levels[i] = g.node("Add", [levels[i], up])
    feats = []
    for level in levels:
        h = g.node("Relu", [g.conv(level, DET_NECK, DET_NECK, 3)])
        h = g.node("Relu", [g.conv(h, DET_NECK, DET_NECK, 3)])
        feats.append(g.node("Relu", [g.conv(h, DET_NECK, DET_NECK, 3)]))
    assert len(feats) == len(STRIDES)
    outputs = add_scrfd_heads(g, feats, DET_NECK)
    return g.model([(x, [1, 3, "?", "?"])], outputs, "scrfd_10g_class_synth")


def _resnet(g: GraphBuilder, x: str, stem: int, stages: tuple[tuple[int, int], ...]) -> str:
    """A classic ResNet trunk from a stride-4 stem, global-average-pooled and flattened."""
    f = g.node("Relu", [g.conv(x, 3, stem, 7, stride=2, pad=3)])
    f = g.node("MaxPool", [f], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    c_in = stem
    for i, (c_out, blocks) in enumerate(stages):
        for b in range(blocks):
            f = _basic_block(g, f, c_in, c_out, 2 if (b == 0 and i > 0) else 1, iresnet=False)
            c_in = c_out
    return g.node("Flatten", [g.node("GlobalAveragePool", [f])], axis=1)


def build_realistic_genderage(seed: int = 0) -> onnx.ModelProto:
    g = GraphBuilder(role_seed(seed, 14))
    x = "data"
    genderage_head(g, _resnet(g, bn_data(g, x), 16, GENDERAGE_STAGES), GENDERAGE_STAGES[-1][0])
    return g.model([(x, ["N", 3, 96, 96])], [("fc1", ["N", 3])], "genderage_synth")


def build_realistic_landmark_3d(seed: int = 0) -> onnx.ModelProto:
    g = GraphBuilder(role_seed(seed, 15))
    x = "data"
    features = _resnet(g, bn_data(g, x), 64, LANDMARK_3D_STAGES)
    landmark_3d_head(g, features, LANDMARK_3D_STAGES[-1][0])
    return g.model([(x, ["N", 3, 192, 192])], [("fc1", ["N", 3309])], "1k3d68_synth")
