"""Sharpness of a swapped face against its plate: the ratio of high-frequency energy inside the face.

The energy is the variance of the Laplacian of the grey image (the usual
focus measure) inside the face mask, shrunk by 2 px so that the seam of the
composite does not count. A ratio of 1 means the face carries as much fine
detail as the plate's face did; below 1 it looks soft next to the plate.
"""

import kornia
import torch
from torch import Tensor

from fusion.checks import check_shape
from fusion.metrics.reconstruction import masked_mean


def laplacian_energy(images: Tensor, mask: Tensor) -> Tensor:
    """(B,) variance of the grey Laplacian inside `mask` (B, 1, H, W) shrunk by 2 px; images (B, 3, H, W) in [0, 1].

    >>> flat, noisy = torch.full((1, 3, 16, 16), 0.5), torch.rand(1, 3, 16, 16)
    >>> mask = torch.ones(1, 1, 16, 16)
    >>> laplacian_energy(flat, mask).item() == 0, laplacian_energy(noisy, mask).item() > 1e-3
    (True, True)
    """
    sizes = check_shape(images, "B 3 H W", "images")
    check_shape(mask, "B 1 H W", "mask", sizes)
    grey = images.float().mean(1, keepdim=True)
    laplacian = kornia.filters.laplacian(grey, 3, border_type="replicate")
    inside = -torch.nn.functional.max_pool2d(-(mask.float() > 0.5).float(), 5, 1, 2)  # 2 px erosion
    mean = masked_mean(laplacian, inside)
    return masked_mean(laplacian ** 2, inside) - mean ** 2


def sharpness_ratio(swapped: Tensor, plate: Tensor, mask: Tensor) -> Tensor:
    """(B,) Laplacian energy of `swapped` over that of `plate`, inside `mask`.

    >>> plate = torch.rand(2, 3, 32, 32)
    >>> soft = kornia.filters.gaussian_blur2d(plate, (7, 7), (1.5, 1.5))
    >>> ratio = sharpness_ratio(soft, plate, torch.ones(2, 1, 32, 32))
    >>> bool((ratio < 0.2).all()), sharpness_ratio(plate, plate, torch.ones(2, 1, 32, 32)).tolist()
    (True, [1.0, 1.0])
    """
    return laplacian_energy(swapped, mask) / laplacian_energy(plate, mask).clamp_min(1e-12)
