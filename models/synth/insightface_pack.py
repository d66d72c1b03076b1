"""Synthetic stand-ins for InsightFace's buffalo_l files, with the real ONNX signatures.

``det_10g.onnx`` is NOT a face detector: it scores image locations whose local features stand
out from the rest of the image (a seeded conv, instance-normalised per image, so that a
handful of locations pass 0.5 on any photo), predicts box distances of 1.5-4 strides and lays
five keypoints out like a face template inside each box. ``w600k_r50.onnx`` and
``2d106det.onnx``, ``genderage.onnx`` and ``1k3d68.onnx`` are seeded conv nets with the real
input/output shapes (their ages, genders and poses mean nothing). Real weights can
never be downloaded in CI, so these files let every code path (routing, decode, alignment,
batching, the model store) run end to end. The same seed gives byte-identical files.

``profile="realistic"`` writes compute-faithful stand-ins for benchmarks instead (see
``models.synth.realistic``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx

from models.synth.attribute_heads import bn_data, genderage_head, landmark_3d_head
from models.synth.onnx_builder import GraphBuilder, flops
from models.synth.realistic import (
    build_realistic_detector,
    build_realistic_genderage,
    build_realistic_landmark_3d,
    build_realistic_recognizer,
)
from models.synth.scrfd_heads import EMBEDDING_DIM, STRIDES, add_scrfd_heads, role_seed

__all__ = ["PACK_FILES", "flops", "write_insightface_pack"]

logger = logging.getLogger(__name__)

DETECTOR_FILE = "det_10g.onnx"
RECOGNIZER_FILE = "w600k_r50.onnx"
LANDMARK_FILE = "2d106det.onnx"
GENDERAGE_FILE = "genderage.onnx"
LANDMARK_3D_FILE = "1k3d68.onnx"
PACK_FILES = (DETECTOR_FILE, RECOGNIZER_FILE, LANDMARK_FILE, GENDERAGE_FILE, LANDMARK_3D_FILE)


def build_detector(seed: int = 0, width: int = 16) -> onnx.ModelProto:
    """Tiny SCRFD-signature detector: input ``input.1`` [1,3,?,?], 9 two-dimensional outputs."""
    g = GraphBuilder(role_seed(seed, 1))
    x = "input.1"
    feats: list[str] = []
    f = g.node("Relu", [g.conv(x, 3, width, 8, stride=8, pad=0)])
    feats.append(f)
    for _ in STRIDES[1:]:
        f = g.node("Relu", [g.conv(f, width, width, 2, stride=2, pad=0)])
        feats.append(f)
    outputs = add_scrfd_heads(g, feats, width)
    return g.model([(x, [1, 3, "?", "?"])], outputs, "synthetic_scrfd")


def build_recognizer(seed: int = 0) -> onnx.ModelProto:
    """Tiny ArcFace-signature recogniser: [N,3,112,112] -> [N,512]; expects (x-127.5)/127.5.

    No Sub/Mul node among the first eight, so insightface takes the 127.5/127.5 path as it
    does for the real w600k_r50.
    """
    g = GraphBuilder(role_seed(seed, 2))
    x = "input.1"
    f = g.node("Relu", [g.conv(x, 3, 16, 4, stride=4, pad=0)])  # 28x28
    f = g.conv(f, 16, 32, 2, stride=2, pad=0)  # 14x14
    # Zero-mean, unit-variance channels per face, so different faces are not all alike.
    f = g.node(
        "InstanceNormalization",
        [f, g.const(np.ones(32, np.float32), "scale"), g.const(np.zeros(32, np.float32), "B")],
    )
    f = g.node("AveragePool", [f], kernel_shape=[2, 2], strides=[2, 2])  # 7x7
    f = g.node("Flatten", [f], axis=1)
    emb = g.gemm(f, 32 * 7 * 7, EMBEDDING_DIM, out="683")  # the real model's output name
    return g.model([(x, ["N", 3, 112, 112])], [(emb, ["N", EMBEDDING_DIM])], "synthetic_arcface")


def _mean_shape_106() -> np.ndarray:
    """106 points on an oval inside the 192x192 crop, in the model's [-1, 1] units."""
    t = np.linspace(0.0, 2.0 * np.pi, 106, endpoint=False)
    pts = np.stack([0.45 * np.cos(t), 0.55 * np.sin(t)], axis=1)
    return pts.astype(np.float32).reshape(-1)


def build_landmark(seed: int = 0) -> onnx.ModelProto:
    """Tiny 2d106det-signature model: ``data`` [N,3,192,192] -> [N,212], Tanh-bounded.

    Starts with a ``bn_data`` BatchNormalization on raw pixels like the real file, so
    insightface feeds it unnormalised pixels (mean 0, std 1).
    """
    g = GraphBuilder(role_seed(seed, 3))
    x = "data"
    ones = np.ones(3, np.float32)
    f = g.node(
        "BatchNormalization",
        [
            x,
            g.const(ones, "gamma"),
            g.const(np.zeros(3, np.float32), "beta"),
            g.const(np.full(3, 127.5, np.float32), "mean"),
            g.const(np.full(3, 128.0**2, np.float32), "var"),
        ],
        name="bn_data",
        epsilon=1e-5,
    )
    f = g.node("Relu", [g.conv(f, 3, 8, 8, stride=8, pad=0)])  # 24x24
    f = g.node("Relu", [g.conv(f, 8, 16, 2, stride=2, pad=0)])  # 12x12
    f = g.node("AveragePool", [f], kernel_shape=[4, 4], strides=[4, 4])  # 3x3
    f = g.node("Flatten", [f], axis=1)
    f = g.gemm(f, 16 * 9, 212, gain=0.1, bias=np.arctanh(_mean_shape_106()))
    g.node("Tanh", [f], out="fc1")
    return g.model([(x, ["N", 3, 192, 192])], [("fc1", ["N", 212])], "synthetic_2d106")


def _tiny_trunk(g: GraphBuilder, x: str, pool: int) -> str:
    """``bn_data``, two strided convs (/8, /2, 16 channels), an average pool of ``pool``,
    flattened: the tiny attribute stand-ins' features."""
    f = g.node("Relu", [g.conv(bn_data(g, x), 3, 8, 8, stride=8, pad=0)])
    f = g.node("Relu", [g.conv(f, 8, 16, 2, stride=2, pad=0)])
    f = g.node("AveragePool", [f], kernel_shape=[pool, pool], strides=[pool, pool])
    return g.node("Flatten", [f], axis=1)


def build_genderage(seed: int = 0) -> onnx.ModelProto:
    """Tiny genderage-signature model: ``data`` [N,3,96,96] -> ``fc1`` [N,3] (female logit,
    male logit, age / 100). NOT an age or gender model: seeded convs whose age output is
    squashed into 0..1 so the reported ages look like ages."""
    g = GraphBuilder(role_seed(seed, 4))
    x = "data"
    genderage_head(g, _tiny_trunk(g, x, 3), 16 * 4)  # 96 -> 12 -> 6 -> 2x2
    return g.model([(x, ["N", 3, 96, 96])], [("fc1", ["N", 3])], "synthetic_genderage")


def build_landmark_3d(seed: int = 0) -> onnx.ModelProto:
    """Tiny 1k3d68-signature model: ``data`` [N,3,192,192] -> ``fc1`` [N,3309], Tanh-bounded."""
    g = GraphBuilder(role_seed(seed, 5))
    x = "data"
    landmark_3d_head(g, _tiny_trunk(g, x, 4), 16 * 9)  # 192 -> 24 -> 12 -> 3x3
    return g.model([(x, ["N", 3, 192, 192])], [("fc1", ["N", 3309])], "synthetic_1k3d68")


def write_insightface_pack(dest: Path, *, seed: int = 0, profile: str = "tiny") -> list[Path]:
    """Write the pack's five files (``PACK_FILES``) into ``dest``; return their paths."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if profile == "tiny":
        models = {
            DETECTOR_FILE: build_detector(seed),
            RECOGNIZER_FILE: build_recognizer(seed),
            LANDMARK_FILE: build_landmark(seed),
            GENDERAGE_FILE: build_genderage(seed),
            LANDMARK_3D_FILE: build_landmark_3d(seed),
        }
    elif profile == "realistic":
        models = {
            DETECTOR_FILE: build_realistic_detector(seed),
            RECOGNIZER_FILE: build_realistic_recognizer(seed),
            LANDMARK_FILE: build_landmark(seed),
            GENDERAGE_FILE: build_realistic_genderage(seed),
            LANDMARK_3D_FILE: build_realistic_landmark_3d(seed),
        }
    else:
        raise ValueError(f"unknown profile {profile!r}; expected 'tiny' or 'realistic'")
    paths = []
    for name, model in models.items():
        path = dest / name
        tmp = path.with_suffix(".onnx.tmp")
        tmp.write_bytes(model.SerializeToString())
        tmp.replace(path)
        paths.append(path)
        logger.info("wrote synthetic %s (%d bytes)", path, path.stat().st_size)
    return paths
