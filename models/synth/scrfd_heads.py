"""The parts both synthetic detectors share: SCRFD's output heads, the per-file seed stream and
the buffalo_l embedding width.

Kept apart from ``insightface_pack`` (which writes the tiny pack and dispatches on the profile)
and ``realistic`` (the compute-faithful nets), so that neither imports the other.
"""

from __future__ import annotations

import numpy as np

from models.synth.onnx_builder import Dim, GraphBuilder

STRIDES = (8, 16, 32)
NUM_ANCHORS = 2
EMBEDDING_DIM = 512

# Keypoint offsets from the anchor centre in stride units (x, y): eyes in the upper third,
# nose at the centre, mouth corners in the lower third of a box 3-8 strides wide.
KPS_TEMPLATE = np.array(
    [[-1.0, -0.9], [1.0, -0.9], [0.0, 0.1], [-0.75, 1.1], [0.75, 1.1]], dtype=np.float32
)
# Per stride: how many standard deviations above the image's mean a location's feature must
# be to score 0.5 (sigmoid(gain * z - gain * z_threshold)).
SCORE_Z_THRESHOLD = {8: 3.8, 16: 3.4, 32: 2.8}
SCORE_GAIN = 2.0


def role_seed(seed: int, role: int) -> int:
    """A separate, stable stream per file, so one file's weights never shift another's."""
    return int(np.random.SeedSequence([seed, role]).generate_state(1)[0])


def add_scrfd_heads(g: GraphBuilder, feats: list[str], width: int) -> list[tuple[str, list[Dim]]]:
    """Score, box and keypoint heads for strides 8, 16, 32, each ending Transpose -> Reshape
    [-1, k] like det_10g (scores then Sigmoid). Returns the 9 outputs in the real order."""
    perm = [0, 2, 3, 1]
    scores, boxes, kpss = [], [], []
    for stride, feat in zip(STRIDES, feats, strict=True):
        a = NUM_ANCHORS
        z = SCORE_Z_THRESHOLD[stride]
        s = g.conv(feat, width, a, 3)
        s = g.node(
            "InstanceNormalization",
            [
                s,
                g.const(np.full(a, SCORE_GAIN, np.float32), "scale"),
                g.const(np.full(a, -SCORE_GAIN * z, np.float32), "B"),
            ],
        )
        s = g.node("Transpose", [s], perm=perm)
        s = g.node("Reshape", [s, g.const(np.array([-1, 1], np.int64), "shape")])
        scores.append(g.node("Sigmoid", [s], out=f"score_{stride}"))

        b = g.node("Sigmoid", [g.conv(feat, width, 4 * a, 3, gain=0.5)])
        b = g.node("Add", [g.node("Mul", [b, g.scalar(2.5)]), g.scalar(1.5)])
        b = g.node("Transpose", [b], perm=perm)
        boxes.append(
            g.node(
                "Reshape", [b, g.const(np.array([-1, 4], np.int64), "shape")], out=f"bbox_{stride}"
            )
        )

        template = np.tile(KPS_TEMPLATE.reshape(-1), a).reshape(1, 10 * a, 1, 1)
        k = g.node("Tanh", [g.conv(feat, width, 10 * a, 3, gain=0.5)])
        k = g.node("Add", [g.node("Mul", [k, g.scalar(0.2)]), g.const(template, "template")])
        k = g.node("Transpose", [k], perm=perm)
        kpss.append(
            g.node(
                "Reshape", [k, g.const(np.array([-1, 10], np.int64), "shape")], out=f"kps_{stride}"
            )
        )
    outputs: list[tuple[str, list[Dim]]] = [(n, ["?", 1]) for n in scores]
    outputs += [(n, ["?", k]) for k, names in ((4, boxes), (10, kpss)) for n in names]
    return outputs
