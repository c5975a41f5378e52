"""Face masks: the convex hull of the 68 landmarks, enlarged about its centroid.

The 10% enlargement reaches past the jaw line and over the brows, so the
blend's inward smoothing band still covers the whole face.
"""

import cv2
import numpy as np


def hull_polygon(landmarks: np.ndarray, enlarge: float = 0.1) -> np.ndarray:
    """Convex hull of the points, scaled by 1 + `enlarge` about its area centroid.

    >>> square = np.array([[0, 0], [2, 0], [2, 2], [0, 2], [1, 1]], np.float32)
    >>> sorted(map(tuple, hull_polygon(square, 0.5).round(2).tolist()))
    [(-0.5, -0.5), (-0.5, 2.5), (2.5, -0.5), (2.5, 2.5)]
    """
    hull = cv2.convexHull(landmarks.astype(np.float32)).reshape(-1, 2).astype(np.float64)
    moments = cv2.moments(hull.astype(np.float32))
    centre = np.array([moments["m10"], moments["m01"]]) / moments["m00"] if moments["m00"] else hull.mean(0)
    return ((hull - centre) * (1 + enlarge) + centre).astype(np.float32)


def polygon_mask(polygon: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Rasterise a convex polygon to an (H, W) uint8 mask (0 or 255, anti-aliased edge)."""
    height, width = (size, size) if isinstance(size, int) else size
    mask = np.zeros((height, width), np.uint8)
    points = np.round(polygon.astype(np.float64) * 16).astype(np.int32)
    cv2.fillConvexPoly(mask, points, 255, lineType=cv2.LINE_AA, shift=4)
    return mask


def inside_fraction(polygon: np.ndarray, width: int, height: int) -> float:
    """Share of a convex polygon's area that lies inside a width x height frame.

    >>> inside_fraction(np.array([[-1, 0], [1, 0], [1, 1], [-1, 1]], np.float32), 10, 10)
    0.5
    """
    frame = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    area = cv2.contourArea(polygon.astype(np.float32))
    if area <= 0:
        return 0.0
    overlap, _ = cv2.intersectConvexConvex(polygon.astype(np.float32), frame)
    return float(overlap / area)
