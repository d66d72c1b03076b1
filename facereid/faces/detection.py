"""SCRFD decoding in numpy/cv2: letterbox, anchor centres, distance decoding, NMS, selection.

Each step reproduces insightface's ``SCRFD`` (``_detect_candidates``, ``forward``, ``nms``,
``detect`` with metric ``default``) so results match its own pipeline, but works on one image's
slice of a batched detector output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import numpy.typing as npt

from facereid.faces.ordering import largest_first

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

STRIDES = (8, 16, 32)
NUM_ANCHORS = 2


@dataclass(frozen=True)
class Letterbox:
    """An image resized into a ``size`` x ``size`` canvas, padded bottom/right with zeros."""

    image: npt.NDArray[np.uint8]
    scale: float  # det_scale: letterboxed pixels per original pixel


def letterbox(image: npt.NDArray[np.uint8], size: int) -> Letterbox:
    """Resize keeping the aspect ratio so the image fits ``size`` x ``size`` (as SCRFD does)."""
    im_ratio = float(image.shape[0]) / image.shape[1]
    if im_ratio > 1.0:  # model ratio is 1 for a square det_size
        new_height = size
        new_width = int(new_height / im_ratio)
    else:
        new_width = size
        new_height = int(new_width * im_ratio)
    scale = float(new_height) / image.shape[0]
    canvas = np.zeros((size, size, 3), dtype=np.uint8)
    canvas[:new_height, :new_width, :] = cv2.resize(image, (new_width, new_height))
    return Letterbox(canvas, scale)


@lru_cache(maxsize=32)
def anchor_centers(
    height: int, width: int, stride: int, num_anchors: int = NUM_ANCHORS
) -> FloatArray:
    """(x, y) of each anchor in input pixels, row-major, ``num_anchors`` rows per location."""
    ys, xs = np.mgrid[:height, :width]
    centers = (np.stack([xs, ys], axis=-1).astype(np.float32) * stride).reshape((-1, 2))
    if num_anchors > 1:
        centers = np.stack([centers] * num_anchors, axis=1).reshape((-1, 2))
    centers.setflags(write=False)
    return np.asarray(centers, dtype=np.float32)


def distance2bbox(points: FloatArray, distance: FloatArray) -> FloatArray:
    """(left, top, right, bottom) distances from each point -> x1, y1, x2, y2."""
    return np.stack(
        [
            points[:, 0] - distance[:, 0],
            points[:, 1] - distance[:, 1],
            points[:, 0] + distance[:, 2],
            points[:, 1] + distance[:, 3],
        ],
        axis=-1,
    )


def distance2kps(points: FloatArray, distance: FloatArray) -> FloatArray:
    """(dx, dy) offsets per keypoint -> absolute points, shape (n, k, 2)."""
    offsets = distance.reshape(distance.shape[0], -1, 2)
    return points[:, None, :] + offsets


def nms(dets: FloatArray, thresh: float) -> list[int]:
    """Greedy NMS over [x1, y1, x2, y2, score] rows, SCRFD's ``+1`` pixel-area convention."""
    x1, y1, x2, y2, scores = dets[:, 0], dets[:, 1], dets[:, 2], dets[:, 3], dets[:, 4]
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size > 0:
        i = int(order[0])
        keep.append(i)
        xx1 = np.maximum(x1[i], x1[order[1:]])
        yy1 = np.maximum(y1[i], y1[order[1:]])
        xx2 = np.minimum(x2[i], x2[order[1:]])
        yy2 = np.minimum(y2[i], y2[order[1:]])
        inter = np.maximum(0.0, xx2 - xx1 + 1) * np.maximum(0.0, yy2 - yy1 + 1)
        overlap = inter / (areas[i] + areas[order[1:]] - inter)
        order = order[np.where(overlap <= thresh)[0] + 1]
    return keep


def decode(
    outputs: Sequence[FloatArray], input_size: int, det_scale: float, threshold: float
) -> tuple[FloatArray, FloatArray]:
    """One image's 9 head outputs -> candidates sorted by score (not yet NMS'd).

    Returns ``dets`` (n, 5: x1, y1, x2, y2, score) and ``kps`` (n, 5, 2), in original-image
    pixels (divided by ``det_scale``).
    """
    fmc = len(STRIDES)
    scores_list, boxes_list, kps_list = [], [], []
    for idx, stride in enumerate(STRIDES):
        scores = outputs[idx]
        side = input_size // stride
        centers = anchor_centers(side, side, stride)
        pos = np.where(scores >= threshold)[0]
        boxes = distance2bbox(centers, outputs[idx + fmc] * stride)
        kps = distance2kps(centers, outputs[idx + 2 * fmc] * stride)
        scores_list.append(scores[pos])
        boxes_list.append(boxes[pos])
        kps_list.append(kps[pos])
    scores_all = np.vstack(scores_list)
    if scores_all.size == 0:
        return np.empty((0, 5), np.float32), np.empty((0, 5, 2), np.float32)
    order = np.argsort(-scores_all.ravel(), kind="stable")
    boxes_all = np.vstack(boxes_list) / det_scale
    kps_all = np.vstack(kps_list) / det_scale
    dets = np.hstack((boxes_all, scores_all)).astype(np.float32, copy=False)
    return dets[order], kps_all[order].astype(np.float32, copy=False)


def select_faces(
    dets: FloatArray,
    kps: FloatArray,
    image_shape: tuple[int, ...],
    *,
    nms_thresh: float,
    min_size: float,
    max_faces: int,
) -> tuple[FloatArray, FloatArray]:
    """NMS, drop faces smaller than ``min_size`` on either side, keep the ``max_faces``
    largest inside the image, largest first (the one rule, ``facereid.faces.ordering``)."""
    keep = nms(dets, nms_thresh)
    dets, kps = dets[keep], kps[keep]
    sizes_ok = ((dets[:, 2] - dets[:, 0]) >= min_size) & ((dets[:, 3] - dets[:, 1]) >= min_size)
    dets, kps = dets[sizes_ok], kps[sizes_ok]
    order = largest_first(dets[:, :4], dets[:, 4], image_shape)
    if max_faces > 0:
        order = order[:max_faces]
    return dets[order], kps[order]
