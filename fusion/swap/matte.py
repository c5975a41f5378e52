"""The face matte of a swap: the hull mask, eroded or grown, with a soft inner edge.

A compositor tunes two things at the seam: where it is (`erode`, pixels at
plate resolution; negative grows the matte) and how wide its soft band is
(`feather`, pixels). The band lies *inside* the edge, so the matte is exactly
0 wherever the face polygon (after erosion) is not, and pixels there stay the
plate's, bit for bit.
"""

import cv2
import numpy as np

from fusion.faces.mask import polygon_mask


def face_matte(polygon: np.ndarray, shape: tuple[int, int], erode: float = 0.0, feather: float = 0.0) -> np.ndarray:
    """(H, W) float32 alpha in [0, 1] from a face polygon in pixel coordinates.

    The ramp is a smoothstep of the distance to the edge, 0 at the edge and 1
    at `feather` pixels inside, so it has no kink where it meets either side.

    >>> square = np.array([[10, 10], [50, 10], [50, 50], [10, 50]], np.float32)
    >>> hard = face_matte(square, (60, 60))
    >>> float(hard[30, 30]), float(hard[5, 30]), round(float(hard.sum()), -2)  # ~41 x 41 pixel centres
    (1.0, 0.0, 1700.0)
    >>> soft = face_matte(square, (60, 60), erode=4, feather=8)
    >>> float(soft[30, 30]), float(soft[12, 30]), bool(0 < soft[18, 30] < 1)
    (1.0, 0.0, True)
    """
    if feather < 0:
        raise ValueError(f"feather must be non-negative pixels, got {feather}")
    mask = polygon_mask(polygon, shape)
    radius = int(round(abs(erode)))
    if radius:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        mask = cv2.erode(mask, kernel) if erode > 0 else cv2.dilate(mask, kernel)
    matte = mask.astype(np.float32) / 255
    if feather > 0:
        inside = cv2.distanceTransform((mask > 0).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        ramp = np.clip(inside / feather, 0, 1)
        matte *= ramp * ramp * (3 - 2 * ramp)
    return matte
