"""Where the expressive features are: soft maps of the eyes, brows and mouth from the 68 landmarks.

A loss that weights a pixel of cheek like a pixel of eyelid or lip lets the
decoder smooth exactly what carries an expression; these maps let it weight
the features up. Each region is the convex hull of its landmarks, grown about
its centre and by a margin (a brow's five points make a thin hull), then
softened with a Gaussian, so a weight has no hard edge for the network to copy.
"""

import cv2
import numpy as np

from fusion.faces.hull import hull_polygon, polygon_mask

#: iBUG 68-point indices of each feature (each eye and each brow its own hull).
FEATURES: dict[str, tuple[tuple[int, ...], ...]] = {
    "eyes": (tuple(range(36, 42)), tuple(range(42, 48))),
    "brows": (tuple(range(17, 22)), tuple(range(22, 27))),
    "mouth": (tuple(range(48, 60)),),
}


def feature_maps(landmarks: np.ndarray, size: int, grow: float = 0.5, margin: float = 0.03,
                 softness: float = 0.02) -> np.ndarray:
    """(size, size, len(FEATURES)) uint8 maps, 255 inside each feature, falling off softly, 0 far away.

    `landmarks` (68, 2) in pixels of the `size` px crop; `grow` enlarges each hull about its centre,
    `margin` and `softness` (dilation and Gaussian sigma) are fractions of `size`.

    >>> eye = np.array([[20, 28], [22, 26], [24, 26], [26, 28], [24, 30], [22, 30]], np.float32)
    >>> points = np.full((68, 2), 32, np.float32)
    >>> points[36:42], points[42:48] = eye, eye + [20, 0]
    >>> maps = feature_maps(points, 64)
    >>> maps.shape, int(maps[28, 23, 0]), int(maps[28, 43, 0]), int(maps[60, 5, 0])
    ((64, 64, 3), 255, 255, 0)
    """
    maps = np.zeros((size, size, len(FEATURES)), np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * round(margin * size) + 1,) * 2)
    for channel, parts in enumerate(FEATURES.values()):
        region = np.zeros((size, size), np.uint8)
        for indices in parts:
            region = np.maximum(region, polygon_mask(hull_polygon(landmarks[list(indices)], grow), size))
        region = cv2.dilate(region, kernel)
        maps[..., channel] = cv2.GaussianBlur(region, (0, 0), softness * size) if softness else region
    return maps
