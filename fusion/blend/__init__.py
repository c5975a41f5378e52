"""Laplacian pyramids, multi-band blending and contrast alignment (torch, differentiable)."""

from fusion.blend.contrast import contrast_gain, detail_contrast_gain
from fusion.blend.erosion import erode_mask, leak_radius
from fusion.blend.multiband import MultiBandBlend, multiband_blend
from fusion.blend.pyramid import (
    collapse_laplacian,
    default_levels,
    gaussian_pyramid,
    laplacian_pyramid,
    pyr_down,
    pyr_up,
)

__all__ = [
    "MultiBandBlend",
    "collapse_laplacian",
    "contrast_gain",
    "default_levels",
    "detail_contrast_gain",
    "erode_mask",
    "gaussian_pyramid",
    "laplacian_pyramid",
    "leak_radius",
    "multiband_blend",
    "pyr_down",
    "pyr_up",
]
