"""Choosing the identity's face when a frame holds several.

Identity footage shows one actor, usually largest in frame; in a video the
face that continues the previous frame's track is the same person even when
someone larger walks through, so continuity wins over size.
"""

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes.

    >>> box_iou(np.array([0, 0, 2, 2]), np.array([1, 0, 3, 2]))
    0.3333333333333333
    """
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def choose_face(boxes: list[np.ndarray], previous: np.ndarray | None = None, min_iou: float = 0.3) -> int:
    """Index of the face to keep: the one overlapping `previous` most, else the largest.

    >>> boxes = [np.array([0, 0, 10, 10]), np.array([50, 50, 90, 90])]
    >>> choose_face(boxes), choose_face(boxes, previous=np.array([1, 1, 11, 11]))
    (1, 0)
    """
    if not boxes:
        raise ValueError("no faces to choose from")
    if previous is not None:
        overlaps = [box_iou(box, previous) for box in boxes]
        if max(overlaps) >= min_iou:
            return int(np.argmax(overlaps))
    return int(np.argmax([(b[2] - b[0]) * (b[3] - b[1]) for b in boxes]))
