"""Masked reconstruction metrics: SSIM and PSNR inside the face mask.

Outside the mask a blended prediction equals its template by construction, so
unmasked scores would be inflated by background that the network never drew.
SSIM comes from kornia's SSIM map; only the reduction is ours.
"""

import kornia
import torch
from torch import Tensor


def _check(prediction: Tensor, target: Tensor, mask: Tensor) -> None:
    if prediction.shape != target.shape or prediction.ndim != 4:
        raise ValueError(f"prediction {tuple(prediction.shape)} and target {tuple(target.shape)} must be equal (B, C, H, W)")
    if mask.shape != (prediction.shape[0], 1, *prediction.shape[2:]):
        raise ValueError(f"mask must be (B, 1, H, W) = {(prediction.shape[0], 1, *prediction.shape[2:])}, got {tuple(mask.shape)}")


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
    ssim_map = kornia.metrics.ssim(prediction.float(), target.float(), window)
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
