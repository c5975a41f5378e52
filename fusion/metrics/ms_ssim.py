"""Masked multi-scale SSIM: structure judged at several sizes, inside the face mask only.

MS-SSIM (Wang, Simoncelli and Bovik 2003) multiplies the contrast-structure
term of each scale, raised to that scale's weight, with the full SSIM of the
coarsest. Here every per-scale mean is a mean inside the mask, pooled down
with the images, so background the network never drew does not count.
kornia's `MS_SSIMLoss` is neither masked nor, with `alpha=0`, MS-SSIM at all
(it is a Gaussian-weighted L1). With the mask all ones this equals
torchmetrics' MS-SSIM (same Gaussian window, reflect padding, crops and
weights; tested). Where an image is too small for five scales of the window,
the scales that fit are used, their weights scaled to the five's total.
"""

import kornia
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fusion.checks import check_shape
from fusion.metrics.reconstruction import masked_mean

#: Wang et al.'s weights of the five scales, finest first.
WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def scales_that_fit(size: int, window: int = 11) -> int:
    """How many scales (of the five) keep the coarsest image larger than the window.

    >>> scales_that_fit(256), scales_that_fit(128), scales_that_fit(64), scales_that_fit(16)
    (5, 4, 3, 1)
    """
    return max(1, min(len(WEIGHTS), sum(1 for k in range(len(WEIGHTS)) if size // 2 ** k > window - 1)))


def _similarity_and_contrast(x: Tensor, y: Tensor, mask: Tensor, window: int, sigma: float) -> tuple[Tensor, Tensor]:
    """Per-image masked means of the SSIM map and of the contrast-structure map, as torchmetrics forms them."""
    pad = (window - 1) // 2
    kernel = kornia.filters.get_gaussian_kernel2d((window, window), (sigma, sigma)).to(x)
    padded = F.pad(torch.cat([x, y]), (pad,) * 4, mode="reflect")
    x, y = padded.chunk(2)
    moments = kornia.filters.filter2d(torch.cat([x, y, x * x, y * y, x * y]), kernel, padding="valid")
    mu_x, mu_y, xx, yy, xy = moments.chunk(5)
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    var_x, var_y = (xx - mu_x ** 2).clamp_min(0), (yy - mu_y ** 2).clamp_min(0)
    contrast = (2 * (xy - mu_x * mu_y) + c2) / (var_x + var_y + c2)
    similarity = (2 * mu_x * mu_y + c1) / (mu_x ** 2 + mu_y ** 2 + c1) * contrast
    inner = mask[..., pad:-pad, pad:-pad] if pad else mask
    return masked_mean(similarity, mask), masked_mean(contrast[..., pad:-pad, pad:-pad] if pad else contrast, inner)


def masked_ms_ssim(prediction: Tensor, target: Tensor, mask: Tensor, window: int = 11, sigma: float = 1.5) -> Tensor:
    """Per-image MS-SSIM (B,) inside `mask` (B, 1, H, W); images (B, C, H, W) in [0, 1].

    Negative per-scale terms are clamped to 0 (as pytorch-msssim does for training), so a fractional
    power never sees a negative base.

    >>> x = torch.rand(2, 3, 64, 64)
    >>> masked_ms_ssim(x, x, torch.ones(2, 1, 64, 64)).tolist()
    [1.0, 1.0]
    """
    sizes = check_shape(prediction, "B C H W", "prediction")
    check_shape(target, "B C H W", "target", sizes)
    check_shape(mask, "B 1 H W", "mask", sizes)
    scales = scales_that_fit(min(prediction.shape[-2:]), window)
    weights = torch.tensor(WEIGHTS[:scales], device=prediction.device)
    weights = weights * (sum(WEIGHTS) / weights.sum())  # the scales that fit carry the five's total weight
    x, y, m = prediction.float(), target.float(), mask.float()
    terms = []
    for scale in range(scales):
        similarity, contrast = _similarity_and_contrast(x, y, m, window, sigma)
        terms.append(similarity if scale == scales - 1 else contrast)
        if scale < scales - 1:
            x, y, m = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2), F.avg_pool2d(m, 2)
    return torch.stack(terms).clamp_min(0).pow(weights[:, None]).prod(0)


class MaskedMSSSIM(nn.Module):
    """`masked_ms_ssim` as a module.

    >>> x = torch.rand(1, 3, 32, 32)
    >>> MaskedMSSSIM(window=7)(x, x, torch.ones(1, 1, 32, 32)).tolist()
    [1.0]
    """

    def __init__(self, window: int = 11, sigma: float = 1.5):
        super().__init__()
        self.window, self.sigma = window, sigma

    def extra_repr(self) -> str:
        """The Gaussian window, shown when the module is printed."""
        return f"window={self.window}, sigma={self.sigma}"

    def forward(self, prediction: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        """Per-image masked MS-SSIM (B,) of (B, C, H, W) images in [0, 1] under a (B, 1, H, W) mask."""
        return masked_ms_ssim(prediction, target, mask, self.window, self.sigma)
