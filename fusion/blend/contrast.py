"""Contrast alignment of a source band to a template band inside a mask.

The measure is the per-channel standard deviation of each mixed level's detail,
weighted by the blend mask, matched level by level. A level's detail is its
Laplacian band G_k - pyr_up(G_k+1), the band the blend scales, taken at the
samples pyr_down keeps: a quarter of the samples, with pyr_up's values there
(`fusion.blend.pyramid.pyr_up_even`) computed at the coarse resolution. What
pyr_down alone removes (G_k[2i, 2j] - G_k+1[i, j]) is another high-pass:
matched on it, the first band the face resolves came out above the plate's
contrast (docs/measurements.md).

- detail, not pixel values: the coarse levels (brightness, color, shading)
  come from the template anyway, and a band's spread is its contrast at that
  scale, whatever the face's mean color;
- per level, not one global gain: a decoder loses amplitude unevenly, most in
  the finest bands (blur), so a single gain would oversharpen the middle
  frequencies while leaving the finest ones flat;
- per channel, so the chroma detail follows the template as well as the luma;
- inside the mask only: outside it the template shows anyway, and background
  texture would skew the statistics;
- bounded, and never raised where the source has nothing to raise: a band the
  source does not resolve (finer than its own sampling, once warped up) holds
  only interpolation residue, which a gain would turn into a grid of streaks
  (the caller lowers `max_gain` to 1 there: `fusion.blend.multiband`).

Without autograd on CPU float32, `detail_contrast_gain` takes its statistics in
numpy: fewer and cheaper calls than torch's, whose dispatch outweighs the
arithmetic on a face's coarse levels; the same statistics to float rounding,
each image's still independent of its batch (docs/measurements.md).
"""

import numpy as np
import torch
from torch import Tensor

from fusion.blend.opencv import uses_opencv
from fusion.checks import check_shape

__all__ = ["contrast_gain", "detail_contrast_gain"]


def _weighted_moments(x: Tensor, weight: Tensor, total: Tensor) -> tuple[Tensor, Tensor]:
    """Weighted per-channel mean and variance of (B, C, H, W) `x` under (B, H, W) `weight`: (B, C) each.

    Plain products and sums: ``einsum`` (one or two operands with `x`) runs
    these as batched matrix-vector products, much slower on CPU
    (docs/measurements.md).
    """
    weighted = x * weight[:, None]
    mean = weighted.sum((-2, -1)).div_(total)
    variance = (weighted * x).sum((-2, -1)).div_(total).addcmul_(mean, mean, value=-1)
    return mean, variance.clamp_min_(0)


#: The gain's bounds: a caller may lower the upper one (`max_gain`).
MAX_GAIN = 4.0
MIN_GAIN = 1 / MAX_GAIN


def contrast_gain(detail: Tensor, reference: Tensor, weight: Tensor, max_gain: float = MAX_GAIN
                  ) -> tuple[Tensor, Tensor]:
    """Per-channel `gain` and `offset` such that ``gain * detail + offset`` has `reference`'s weighted std.

    The detail is scaled about its weighted mean, which stays put: only its
    spread (contrast) changes, not its level.

    Args:
        detail: (B, C, H, W) band to adjust (the source's).
        reference: (B, C, H, W) band with the wanted contrast (the template's).
        weight: (B, 1, H, W) weights in [0, 1], e.g. the blend mask at this level.
        max_gain: the gain is clamped to [`MIN_GAIN`, max_gain], so a nearly flat
            band (an early, blurry decoder output) is not blown up into noise; a
            `max_gain` of 1 only ever lowers the detail's contrast.

    Returns:
        gain, offset: (B, C, 1, 1) in `detail`'s dtype. The statistics are taken
        in at least float32 (a bfloat16 sum of squares over a megapixel is
        useless). An all-zero weight gives a gain of 1 and an offset of 0.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> reference = torch.randn(1, 3, 32, 32)
        >>> detail = 0.5 * reference + 1
        >>> gain, offset = contrast_gain(detail, reference, torch.ones(1, 1, 32, 32))
        >>> gain.flatten().round(decimals=4)
        tensor([2., 2., 2.])
        >>> aligned = gain * detail + offset
        >>> torch.allclose(aligned.std((-2, -1)), reference.std((-2, -1)), rtol=1e-4)
        True
        >>> torch.allclose(aligned.mean((-2, -1)), detail.mean((-2, -1)))
        True
    """
    if detail.shape != reference.shape:
        raise ValueError(f"detail and reference differ in shape: {tuple(detail.shape)} vs {tuple(reference.shape)}")
    if weight.dim() != 4 or weight.shape[1] != 1 or weight.shape[-2:] != detail.shape[-2:]:
        raise ValueError(f"expected a (B, 1, H, W) weight for {tuple(detail.shape)}, got {tuple(weight.shape)}")
    stats_dtype = torch.promote_types(detail.dtype, torch.float32)
    weight = weight[:, 0].to(stats_dtype).contiguous()  # a strided weight (every other sample) slows each product
    total = weight.sum((-2, -1)).clamp_min_(torch.finfo(stats_dtype).tiny)[:, None]
    mean, variance = _weighted_moments(detail.to(stats_dtype), weight, total)
    _, reference_variance = _weighted_moments(reference.to(stats_dtype), weight, total)
    eps = torch.finfo(stats_dtype).eps ** 2
    gain = ((reference_variance + eps) / variance.add_(eps)).sqrt_().clamp(MIN_GAIN, max_gain)
    offset = torch.addcmul(mean, mean, gain, value=-1)
    return gain[..., None, None].to(detail.dtype), offset[..., None, None].to(detail.dtype)


def detail_contrast_gain(source: Tensor, source_up: Tensor, template: Tensor, template_up: Tensor,
                         weight: Tensor, max_gain: float = MAX_GAIN) -> tuple[Tensor, Tensor]:
    """`contrast_gain` of the source's detail at one pyramid level against the template's.

    A level's detail is its Laplacian band at its even samples (module docstring): the level's even samples
    minus the next coarser level's `pyr_up_even`, weighted by `weight`'s even samples.

    Args:
        source, template: (B, C, H, W) the level (or a crop of it starting on an even sample).
        source_up, template_up: (B, C, ceil(H / 2), ceil(W / 2)) the next level's `pyr_up_even` (the same
            crop: `pyr_up_even_window`).
        weight: (B, 1, H, W) in [0, 1] at the level's resolution.
        max_gain: as in `contrast_gain`.

    Returns:
        gain, offset: (B, C, 1, 1), as `contrast_gain` gives them for the source's detail.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> template = torch.randn(1, 3, 32, 32)
        >>> up = torch.zeros(1, 3, 16, 16)
        >>> gain, _ = detail_contrast_gain(template / 2, up, template, up, torch.ones(1, 1, 32, 32))
        >>> gain.flatten().round(decimals=4)
        tensor([2., 2., 2.])
    """
    batch, channels, height, width = source.shape
    coarse = (batch, channels, (height + 1) // 2, (width + 1) // 2)
    # Plain comparisons first (the blend calls this at every level of every image); check_shape for the message.
    if template.shape != source.shape or weight.shape != (batch, 1, height, width) or source_up.shape != coarse \
            or template_up.shape != coarse:
        sizes = check_shape(source, "B C H W", "source")
        check_shape(template, "B C H W", "template", sizes)
        check_shape(weight, "B 1 H W", "weight", sizes)
        sizes.update(h=coarse[2], w=coarse[3])
        check_shape(source_up, "B C h w", "source_up", sizes)
        check_shape(template_up, "B C h w", "template_up", sizes)
    tensors = (source, source_up, template, template_up, weight)
    if not all(uses_opencv(x) for x in tensors):
        even = (..., slice(None, None, 2), slice(None, None, 2))
        return contrast_gain(source[even] - source_up, template[even] - template_up, weight[even], max_gain)
    return _numpy_detail_gain(*(x.numpy() for x in tensors), max_gain)


def _numpy_detail_gain(source: np.ndarray, source_up: np.ndarray, template: np.ndarray,
                       template_up: np.ndarray, weight: np.ndarray, max_gain: float) -> tuple[Tensor, Tensor]:
    """`detail_contrast_gain` on float32 arrays: both details in one buffer, their weighted sums as dot
    products (the squares overwrite the details)."""
    batch, channels = source.shape[:2]
    detail = np.empty((batch, 2 * channels, *source_up.shape[-2:]), np.float32)
    np.subtract(source[..., ::2, ::2], source_up, out=detail[:, :channels])
    np.subtract(template[..., ::2, ::2], template_up, out=detail[:, channels:])
    detail = detail.reshape(batch, 2 * channels, -1)
    weight = np.ascontiguousarray(weight[:, :, ::2, ::2]).reshape(batch, 1, -1)
    total = np.maximum(weight.sum(-1), np.finfo(np.float32).tiny)
    mean = np.vecdot(detail, weight) / total
    variance = np.maximum(np.vecdot(np.square(detail, out=detail), weight) / total - mean * mean, 0)
    eps = np.finfo(np.float32).eps ** 2
    gain = np.clip(np.sqrt((variance[:, channels:] + eps) / (variance[:, :channels] + eps)), MIN_GAIN, max_gain)
    offset = mean[:, :channels] - mean[:, :channels] * gain
    return torch.from_numpy(gain).view(batch, channels, 1, 1), torch.from_numpy(offset).view(batch, channels, 1, 1)
