"""Face alignment: ArcFace ``norm_crop`` and the 2d106det crop transform, in numpy/cv2.

The similarity estimate is Umeyama's least-squares method, the one skimage's
``SimilarityTransform.estimate`` runs inside insightface's ``face_align.estimate_norm``;
reimplemented here so the service does not need scikit-image.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
Matrix = npt.NDArray[np.float64]

# Where the five keypoints land in a 112x112 ArcFace crop (insightface's arcface_dst).
ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)
LANDMARK_INPUT_SIZE = 192
LANDMARK_CROP_MARGIN = 1.5  # the crop side is 1.5x the box's longer side


def umeyama_similarity(src: npt.ArrayLike, dst: npt.ArrayLike) -> Matrix:
    """The 3x3 similarity (rotation, uniform scale, translation) that best maps src to dst."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    num, dim = src.shape
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_demean, dst_demean = src - src_mean, dst - dst_mean
    a = dst_demean.T @ src_demean / num
    d = np.ones(dim)
    if np.linalg.det(a) < 0:
        d[dim - 1] = -1
    t = np.eye(dim + 1)
    u, s, v = np.linalg.svd(a)
    rank = np.linalg.matrix_rank(a)
    if rank == 0:
        raise ValueError("keypoints are degenerate (all equal); cannot align")
    if rank == dim - 1:
        if np.linalg.det(u) * np.linalg.det(v) > 0:
            t[:dim, :dim] = u @ v
        else:
            flipped = d.copy()
            flipped[dim - 1] = -1
            t[:dim, :dim] = u @ np.diag(flipped) @ v
    else:
        t[:dim, :dim] = u @ np.diag(d) @ v
    scale = 1.0 / src_demean.var(axis=0).sum() * (s @ d)
    t[:dim, dim] = dst_mean - scale * (t[:dim, :dim] @ src_mean)
    t[:dim, :dim] *= scale
    return t


def estimate_norm(kps: npt.ArrayLike, image_size: int = 112) -> Matrix:
    """2x3 affine that maps five keypoints onto the ArcFace template scaled to ``image_size``."""
    kps = np.asarray(kps)
    if kps.shape != (5, 2):
        raise ValueError(f"expected 5x2 keypoints, got {kps.shape}")
    if image_size % 112 == 0:
        ratio, diff_x = image_size / 112.0, 0.0
    elif image_size % 128 == 0:
        ratio = image_size / 128.0
        diff_x = 8.0 * ratio
    else:
        raise ValueError(f"image_size must be a multiple of 112 or 128, got {image_size}")
    dst = ARCFACE_TEMPLATE * ratio
    dst[:, 0] += diff_x
    return umeyama_similarity(kps, dst)[:2, :]


def norm_crop(
    image: npt.NDArray[np.uint8], kps: npt.ArrayLike, image_size: int = 112
) -> npt.NDArray[np.uint8]:
    """The aligned ``image_size`` square crop the recogniser expects."""
    matrix = estimate_norm(kps, image_size)
    crop = cv2.warpAffine(image, matrix, (image_size, image_size), borderValue=0.0)
    return np.asarray(crop, dtype=np.uint8)


def landmark_crop_matrix(bbox: npt.ArrayLike, output_size: int = LANDMARK_INPUT_SIZE) -> Matrix:
    """2x3 affine of insightface's ``Landmark.get``: centre the box, side 1.5x its longer side."""
    x1, y1, x2, y2 = (float(v) for v in np.asarray(bbox)[:4])
    w, h = x2 - x1, y2 - y1
    cx, cy = (x2 + x1) / 2, (y2 + y1) / 2
    scale = output_size / (max(w, h) * LANDMARK_CROP_MARGIN)
    return np.array(
        [[scale, 0.0, output_size / 2 - cx * scale], [0.0, scale, output_size / 2 - cy * scale]]
    )


def landmark_crop(
    image: npt.NDArray[np.uint8], bbox: npt.ArrayLike, output_size: int = LANDMARK_INPUT_SIZE
) -> tuple[npt.NDArray[np.uint8], Matrix]:
    matrix = landmark_crop_matrix(bbox, output_size)
    crop = cv2.warpAffine(image, matrix, (output_size, output_size), borderValue=0.0)
    return np.asarray(crop, dtype=np.uint8), matrix


def landmarks_to_image(
    pred: npt.ArrayLike, matrix: Matrix, output_size: int = LANDMARK_INPUT_SIZE
) -> FloatArray:
    """Map a 2d106det output row ([-1, 1] crop units, x/y interleaved) back to image pixels."""
    pts = np.asarray(pred, dtype=np.float32).reshape(-1, 2).copy()
    pts += 1
    pts *= output_size // 2
    inverse = cv2.invertAffineTransform(matrix)
    return (pts @ inverse[:, :2].T + inverse[:, 2]).astype(np.float32)
