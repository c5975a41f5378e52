"""Sharpness of a face: fine detail that follows the image's structure, not fine energy of any kind.

The fine band (the image less a Gaussian blur of 2 px) is split, pixel by
pixel, into its gradient along and across the local orientation of the
coarse image (the blurred image's structure tensor, summed over channels):
at a real edge the fine detail steepens the coarse edge, so its gradient
lies along the coarse one. Noise, color noise and a grid of streaks put
about as much energy across as along, so

- the **aligned detail** (along minus across) leaves them out, and
- its **coherence** (aligned detail over all fine energy) falls with them.

A Laplacian-variance measure counts any fine energy: noise raises it, and a
composite that raises each band of a soft face to the plate's energy scores
about 1 on it whatever the streaks (docs/design.md, The swap composite).
The mask is shrunk by 4 px so that the composite's seam does not count.
One home for both users: the swap's and evaluate's ratio to the plate, and
the per-crop score that data preparation stores.
"""

import kornia
import torch
import torch.nn.functional as F
from torch import Tensor

from fusion.checks import check_shape
from fusion.metrics.reconstruction import masked_mean

__all__ = ["detail_structure", "sharpness_ratio", "structure_sharpness"]

#: Scale (px) of the blur that splits the fine band from the coarse image, and of the orientation's window.
_FINE_SIGMA, _WINDOW_SIGMA = 2.0, 3.0

#: How far (px) the mask is shrunk before measuring.
_SHRINK = 4


def _blur(x: Tensor, sigma: float) -> Tensor:
    size = 2 * round(3 * sigma) + 1
    return kornia.filters.gaussian_blur2d(x, (size, size), (sigma, sigma), border_type="replicate")


def detail_structure(images: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """(B,) aligned fine detail and its (B,) coherence in [0, 1] inside `mask` (B, 1, H, W) shrunk by 4 px;
    images (B, C, H, W) in [0, 1].

    >>> _ = torch.manual_seed(0)
    >>> edge = torch.zeros(1, 3, 32, 32)
    >>> edge[..., 16:] = 1
    >>> mask = torch.ones(1, 1, 32, 32)
    >>> aligned, coherence = detail_structure(edge, mask)
    >>> bool(aligned > 0), bool(coherence > 0.99)
    (True, True)
    >>> aligned, coherence = detail_structure(0.5 + 0.1 * torch.randn(1, 3, 32, 32), mask)
    >>> bool(coherence < 0.3)
    True
    """
    sizes = check_shape(images, "B C H W", "images")
    check_shape(mask, "B 1 H W", "mask", sizes)
    x = images.float()
    coarse = _blur(x, _FINE_SIGMA)
    gx, gy = kornia.filters.spatial_gradient(coarse).unbind(2)
    tensor = _blur(torch.stack([(gx * gx).sum(1), (gx * gy).sum(1), (gy * gy).sum(1)], 1), _WINDOW_SIGMA)
    angle = 0.5 * torch.atan2(2 * tensor[:, 1], tensor[:, 0] - tensor[:, 2])
    cos, sin = angle.cos()[:, None], angle.sin()[:, None]
    fx, fy = kornia.filters.spatial_gradient(x - coarse).unbind(2)
    along, across = (fx * cos + fy * sin).square().sum(1, True), (fy * cos - fx * sin).square().sum(1, True)
    inside = -F.max_pool2d(-(mask.float() > 0.5).float(), 2 * _SHRINK + 1, 1, _SHRINK)
    along, across = masked_mean(along, inside), masked_mean(across, inside)
    aligned = (along - across).clamp_min(0)
    return aligned, aligned / (along + across).clamp_min(1e-12)


def structure_sharpness(images: Tensor, mask: Tensor) -> Tensor:
    """(B,) aligned detail times its coherence: one number per face for its sharpness on its own.

    >>> face = torch.zeros(2, 3, 32, 32)
    >>> face[..., 8:24, 8:24] = 1
    >>> face[1] = kornia.filters.gaussian_blur2d(face[1:], (9, 9), (2.0, 2.0))[0]
    >>> sharp, soft = structure_sharpness(face, torch.ones(2, 1, 32, 32)).tolist()
    >>> soft < 0.1 * sharp
    True
    """
    aligned, coherence = detail_structure(images, mask)
    return aligned * coherence


def sharpness_ratio(swapped: Tensor, plate: Tensor, mask: Tensor) -> Tensor:
    """(B,) the swap's aligned detail over the plate's, times its coherence over the plate's (at most 1:
    a face cleaner than the plate is not sharper for it), inside `mask`.

    >>> plate = torch.rand(2, 3, 32, 32)
    >>> soft = kornia.filters.gaussian_blur2d(plate, (7, 7), (1.5, 1.5))
    >>> ratio = sharpness_ratio(soft, plate, torch.ones(2, 1, 32, 32))
    >>> bool((ratio < 0.2).all()), sharpness_ratio(plate, plate, torch.ones(2, 1, 32, 32)).tolist()
    (True, [1.0, 1.0])
    """
    aligned, coherence = detail_structure(swapped, mask)
    plate_aligned, plate_coherence = detail_structure(plate, mask)
    share = (coherence / plate_coherence.clamp_min(1e-12)).clamp_max(1)
    return aligned / plate_aligned.clamp_min(1e-12) * share
