"""Masked reconstruction metrics: SSIM and PSNR inside the face mask.

Outside the mask a blended prediction equals its template by construction, so
unmasked scores would be inflated by background that the network never drew.
SSIM comes from kornia's SSIM map; only the reduction is ours. Each
function has a module twin for use in an `nn.Module` tree (as kornia's
`metrics/ssim.py` pairs `ssim` and `SSIM`).
"""

import kornia
import torch
from torch import Tensor, nn

from fusion.checks import check_shape


def _check(prediction: Tensor, target: Tensor, mask: Tensor) -> None:
    sizes = check_shape(prediction, "B C H W", "prediction")
    check_shape(target, "B C H W", "target", sizes)
    check_shape(mask, "B 1 H W", "mask", sizes)


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Per-image mean of `values` (B, C, H, W) weighted by `mask` (B, 1, H, W)."""
    weight = mask.expand_as(values)
    return (values * weight).sum((1, 2, 3)) / weight.sum((1, 2, 3)).clamp_min(1e-8)


def masked_ssim(prediction: Tensor, target: Tensor, mask: Tensor, window: int = 11) -> Tensor:
    """Per-image SSIM averaged inside the mask; images in [0, 1].

    >>> x = torch.rand(2, 3, 32, 32)
    >>> masked_ssim(x, x, torch.ones(2, 1, 32, 32)).tolist()
    [1.0, 1.0]
    """
    _check(prediction, target, mask)
    window = min(window, (min(prediction.shape[-2:]) // 2) * 2 - 1)
    # Contiguous: on channels_last images oneDNN's filter sums in an order that depends on the batch size,
    # and an image's score must not depend on what it is batched with.
    ssim_map = kornia.metrics.ssim(prediction.float().contiguous(), target.float().contiguous(), window)
    return masked_mean(ssim_map, mask.float())


def masked_psnr(prediction: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Per-image PSNR (dB) of the mean squared error inside the mask; images in [0, 1].

    >>> x = torch.zeros(1, 3, 8, 8)
    >>> masked_psnr(x, x + 0.1, torch.ones(1, 1, 8, 8)).round().tolist()
    [20.0]
    """
    _check(prediction, target, mask)
    mse = masked_mean((prediction.float() - target.float()) ** 2, mask.float())
    return -10 * torch.log10(mse.clamp_min(1e-10))


class MaskedSSIM(nn.Module):
    """`masked_ssim` as a module.

    >>> x = torch.rand(2, 3, 16, 16)
    >>> MaskedSSIM(window=7)(x, x, torch.ones(2, 1, 16, 16)).tolist()
    [1.0, 1.0]
    """

    def __init__(self, window: int = 11):
        super().__init__()
        self.window = window

    def extra_repr(self) -> str:
        """The SSIM window, shown when the module is printed."""
        return f"window={self.window}"

    def forward(self, prediction: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        """Per-image masked SSIM (B,) of (B, C, H, W) images in [0, 1] under a (B, 1, H, W) mask."""
        return masked_ssim(prediction, target, mask, self.window)


class MaskedPSNR(nn.Module):
    """`masked_psnr` as a module.

    >>> x = torch.zeros(1, 3, 8, 8)
    >>> MaskedPSNR()(x, x + 0.1, torch.ones(1, 1, 8, 8)).round().tolist()
    [20.0]
    """

    def forward(self, prediction: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        """Per-image masked PSNR in dB (B,) of (B, C, H, W) images in [0, 1] under a (B, 1, H, W) mask."""
        return masked_psnr(prediction, target, mask)
