"""The face matte of a swap: the hull mask, eroded or grown, cut where an occluder covers the face,
with a soft inner edge.

A compositor tunes two things at the seam: where it is (`erode`, pixels at
plate resolution; negative grows the matte) and how wide its soft band is
(`feather`, pixels). The band lies *inside* the edge, so the matte is exactly
0 wherever the face polygon (after erosion) is not, and pixels there stay the
plate's, bit for bit.
"""

import cv2
import numpy as np

from fusion.errors import ConfigError
from fusion.faces.hull import polygon_mask
from fusion.model.matte_net import MatteNet
from fusion.swap.disc_erosion import dilate_disc, erode_disc, support_window

def learned_matte(matte: str, net: MatteNet | None, checkpoint=None) -> MatteNet | None:
    """The network `matte` (already checked by `check_matte`) cuts occluders with: None for `hull`, the
    checkpoint's learned matte `net` for `learned`; a ConfigError naming the fix where it holds none.

    >>> learned_matte("hull", None) is None
    True
    """
    if matte == "hull":
        return None
    if net is None:
        raise ConfigError(f"matte=learned: {checkpoint} holds no learned matte; train one with python matte.py "
                          f"checkpoint={checkpoint} and pass the checkpoint it writes (<name>.matte.ckpt)")
    return net


def cut_occluders(hard: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """`hard` where `visible` (the learned matte's probability of visible face, same shape) is at least 0.5, else 0.

    >>> cut_occluders(np.ones((1, 3), np.float32), np.array([[0.9, 0.5, 0.1]], np.float32)).tolist()
    [[1.0, 1.0, 0.0]]
    """
    return hard * (visible >= 0.5)


def hard_matte(polygon: np.ndarray, shape: tuple[int, int], erode: float = 0.0) -> np.ndarray:
    """The polygon's (H, W) float32 mask (anti-aliased edge), shrunk by `erode` pixels (negative grows it)
    through a disc (`fusion.swap.disc_erosion`: OpenCV's elliptic kernel, in linear time).

    >>> square = np.array([[10, 10], [50, 10], [50, 50], [10, 50]], np.float32)
    >>> hard = hard_matte(square, (60, 60))
    >>> float(hard[30, 30]), float(hard[5, 30]), round(float(hard.sum()), -2)  # ~41 x 41 pixel centres
    (1.0, 0.0, 1700.0)
    >>> float(hard_matte(square, (60, 60), erode=4)[12, 30])
    0.0
    """
    mask = polygon_mask(polygon, shape)
    radius = int(round(abs(erode)))
    if radius:
        mask = erode_disc(mask, radius) if erode > 0 else dilate_disc(mask, radius)
    return mask.astype(np.float32) / 255


def feather_matte(matte: np.ndarray, feather: float) -> np.ndarray:
    """`matte` times a smoothstep ramp over the `feather` pixels inside its edge: still 0 wherever it was.

    The ramp is a smoothstep of the distance to the edge, 0 at the edge and 1
    at `feather` pixels inside, so it has no kink where it meets either side.

    >>> square = np.array([[10, 10], [50, 10], [50, 50], [10, 50]], np.float32)
    >>> soft = feather_matte(hard_matte(square, (60, 60)), 8)
    >>> float(soft[30, 30]), float(soft[5, 30]), bool(0 < soft[14, 30] < 1)
    (1.0, 0.0, True)
    """
    if feather < 0:
        raise ValueError(f"feather must be non-negative pixels, got {feather}")
    if feather == 0:
        return matte
    inside = (matte > 0).view(np.uint8)
    out = np.zeros_like(matte)
    window = support_window(inside)  # the distance to the nearest 0 there is the whole matte's (to float rounding)
    if window is None:
        return out
    distance = cv2.distanceTransform(inside[window], cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    ramp = np.clip(distance / feather, 0, 1)
    out[window] = matte[window] * (ramp * ramp * (3 - 2 * ramp))
    return out
