"""Mask erosion that keeps a multi-band blend inside the mask.

Band k of the blend reaches the image through k pyr_downs of the mask and k
pyr_ups of the band, each widening its footprint by 2 pixels of the finer of
the two levels. A mask change therefore moves pixels at most
``2 * (2 + 4 + ... + 2**k) = 2**(k + 2) - 4`` pixels away (the 5-tap support,
not a tail estimate: beyond it the weight is exactly zero). Eroding the mask by
that radius for the coarsest mixed band keeps every source pixel inside the
original mask, so the blend is the template wherever the mask is 0.
"""

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from fusion.blend.opencv import per_plane, uses_opencv

__all__ = ["erode_mask", "leak_radius"]

#: Without autograd on CPU float32, radii up to this erode through ``cv2.erode`` (its separable minimum
#: costs about radius comparisons per pixel, the doubling below about log2(radius) passes): faster up to
#: here (docs/measurements.md), the same numbers (a minimum is exact).
_OPENCV_MAX_RADIUS = 16


def leak_radius(mixed_levels: int) -> int:
    """How far (pixels, chessboard distance) a blend of `mixed_levels` bands spreads a mask.

    Example:
        >>> [leak_radius(n) for n in (1, 2, 3, 4)]
        [0, 4, 12, 28]
    """
    if mixed_levels < 1:
        raise ValueError(f"mixed_levels must be at least 1, got {mixed_levels}")
    return 2 ** (mixed_levels + 1) - 4


def _min_filter_1d(x: Tensor, radius: int, dim: int) -> Tensor:
    """Minimum over a window of 2 * radius + 1 samples, by doubling: log2(window) + 1 passes."""
    window = 2 * radius + 1
    pad = (radius, radius, 0, 0) if dim == -1 else (0, 0, radius, radius)
    x = F.pad(x, pad, value=float("inf"))
    span = 1
    while 2 * span <= window:
        x = torch.minimum(x.narrow(dim, 0, x.shape[dim] - span), x.narrow(dim, span, x.shape[dim] - span))
        span *= 2
    rest = window - span
    return torch.minimum(x.narrow(dim, 0, x.shape[dim] - rest), x.narrow(dim, rest, x.shape[dim] - rest))


def erode_mask(mask: Tensor, radius: int) -> Tensor:
    """Erode with a (2 * radius + 1)-pixel square: each pixel becomes its window's minimum.

    Pixels beyond the image border do not count (a face cut by the frame is
    not eroded from the frame edge, there is nothing to leak into there). A
    square, not a disc, because the blend spreads along rows and columns
    separably, so its footprint is a square too. Hand-written because
    ``kornia.morphology.erosion`` costs O(radius**2) per pixel, and radii here
    reach ~10% of the image; the doubling above costs O(log radius). Small
    radii on CPU float32 with no gradient go through ``cv2.erode``.

    Example:
        >>> mask = torch.zeros(1, 1, 7, 7)
        >>> mask[..., 1:6, 1:6] = 1
        >>> erode_mask(mask, 1)[0, 0, 3]
        tensor([0., 0., 1., 1., 1., 0., 0.])
        >>> erode_mask(torch.ones(1, 1, 4, 4), 3).min()
        tensor(1.)
    """
    if mask.dim() != 4 or mask.shape[1] != 1:
        raise ValueError(f"expected a (B, 1, H, W) mask, got shape {tuple(mask.shape)}")
    if radius < 0:
        raise ValueError(f"radius must be non-negative, got {radius}")
    if radius == 0:
        return mask
    if radius <= _OPENCV_MAX_RADIUS and uses_opencv(mask):
        # OpenCV's default border for an erosion is the largest value: beyond the image nothing counts.
        kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
        return per_plane(lambda src, dst: cv2.erode(src, kernel, dst), mask, tuple(mask.shape[-2:]))
    return _min_filter_1d(_min_filter_1d(mask, radius, -2), radius, -1)
