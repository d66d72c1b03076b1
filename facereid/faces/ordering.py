"""The one face-ordering rule every engine applies: largest visible box first.

"The primary face" (the one ``/analyze`` answers at the top level) must not depend on the
engine. dlib ordered by area and InsightFace by its ``default`` prominence metric (area minus
twice the squared distance to the image centre); on insightface's t1.jpg group photo the two
rules pick different people. Area is the rule kept: it is what a user means by "the main
face", it does not change when an image is padded, and it is what the wave-1 API tests pinned
for the primary face. The area counted is the part of the box inside the image: a detector
may extend a box past an edge, and a box wholly outside the image (only a broken or synthetic
detector makes one) must not become the primary face. Ties (equal areas) go to the higher
detection score, then to detection order, so the result is deterministic.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def largest_first(
    boxes: npt.ArrayLike, scores: npt.ArrayLike, image_shape: tuple[int, ...]
) -> npt.NDArray[np.intp]:
    """Indices ordering ``boxes`` (n x 4, x1, y1, x2, y2) by their area inside an image of
    ``image_shape`` (height, width, ...), largest first."""
    height, width = float(image_shape[0]), float(image_shape[1])
    xyxy = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    w = np.clip(np.minimum(xyxy[:, 2], width) - np.maximum(xyxy[:, 0], 0.0), 0.0, None)
    h = np.clip(np.minimum(xyxy[:, 3], height) - np.maximum(xyxy[:, 1], 0.0), 0.0, None)
    score = np.asarray(scores, dtype=np.float64).reshape(-1)
    # np.lexsort sorts by the last key first and is stable: area, then score, then input order.
    return np.asarray(np.lexsort((-score, -(w * h))), dtype=np.intp)
