"""Multi-band (Burt-Adelson) blending of a face into a template, with contrast alignment.

The blended pyramid takes the template's `keep_coarse` coarsest levels (its
lighting and colour) and mixes the finer bands S_k (source) and T_k (template)
by the Gaussian pyramid w_k of the eroded mask, each seam as soft as its band's
frequencies. Collapsed from coarse to fine, the image at level k is

    O_k = lerp(Gt_k, gain_k * S_k + offset_k + pyr_up(Gt_k+1), w_k) + pyr_up(O_k+1 - Gt_k+1)

(G the Gaussian levels; the coarsest mixed level has O_k+1 = Gt_k+1), with
gain_k * S_k + offset_k the source band at the template's contrast
(`fusion.blend.contrast`). Since S_k = Gs_k - pyr_up(Gs_k+1) and pyr_up is
linear and keeps constants, the bracket is
gain_k * Gs_k + pyr_up(Gt_k+1 - gain_k * Gs_k+1 + offset_k):
two upsamplings per level instead of the three of building both Laplacian
pyramids and collapsing one, no level coarser than the first kept one is
built, and the result is exactly the template where every w_k is 0.
"""

import torch
from torch import Tensor, nn

from fusion.blend.contrast import contrast_gain
from fusion.blend.erosion import erode_mask, leak_radius
from fusion.blend.pyramid import default_levels, gaussian_pyramid, pyr_down, pyr_up, uses_opencv
from fusion.checks import check_shape

__all__ = ["MultiBandBlend", "multiband_blend"]

#: On CPU the batch is blended in chunks of about this many elements per image
#: tensor (2 MB in float32): torch allocates every intermediate afresh, and
#: once they outgrow the caches (and glibc's mmap threshold, so that each new
#: page faults) a whole batch blends slower per image than chunks of one or
#: two images (docs/design.md (Measurements)).
_CPU_CHUNK_ELEMENTS = 2**19


def _check_inputs(source: Tensor, template: Tensor, mask: Tensor) -> None:
    sizes = check_shape(source, "B C H W", "source")
    check_shape(template, "B C H W", "template", sizes)
    check_shape(mask, "B 1 H W", "mask", sizes)
    if not source.is_floating_point() or template.dtype != source.dtype:
        raise ValueError(f"source and template must share one float dtype, got {source.dtype} and {template.dtype}")
    if not mask.is_floating_point():
        raise ValueError(f"mask must be a float tensor in [0, 1], got {mask.dtype}")


def _blend(source: Tensor, template: Tensor, mask: Tensor, levels: int, mixed: int, radius: int, match: bool,
           out: Tensor | None = None) -> Tensor:
    channels = source.shape[1]
    depth = min(mixed + 1, levels)
    pyramid = [(source, template, erode_mask(mask.to(source.dtype), radius))]
    if depth > 1 and uses_opencv(source) and uses_opencv(template) and uses_opencv(mask):
        # OpenCV resamples plane by plane: stacking would only add a copy.
        pyramid += zip(*(gaussian_pyramid(pyr_down(x), depth - 1) for x in pyramid[0]))
    elif depth > 1:
        # Past level 0 the three go down as one tensor: a third of the calls,
        # most of the cost at small sizes (level 0 itself would be a copy).
        stacked = gaussian_pyramid(torch.cat([pyr_down(x) for x in pyramid[0]], 1), depth - 1)
        pyramid += [(g[:, :channels], g[:, channels:-1], g[:, -1:]) for g in stacked]
    finer = None
    for k in reversed(range(mixed)):
        source_k, template_k, weight = pyramid[k]
        face = source_k
        if k + 1 < depth:
            coarse_source, coarse_template, _ = pyramid[k + 1]
            if match:
                gain, offset = contrast_gain(
                    source_k[..., ::2, ::2] - coarse_source,
                    template_k[..., ::2, ::2] - coarse_template,
                    weight[..., ::2, ::2],
                )
                # pyr_up keeps a constant, so the offset joins the coarse
                # difference: a broadcast `self` makes addcmul much slower.
                difference = torch.addcmul(coarse_template, coarse_source, gain, value=-1).add_(offset)
                face = pyr_up(difference, face.shape[-2:]).addcmul_(source_k, gain)
            else:
                face = source_k + pyr_up(coarse_template - coarse_source, face.shape[-2:])
        elif match:
            gain, offset = contrast_gain(source_k, template_k, weight)
            face = (source_k * gain).add_(offset)
        blended = torch.lerp(template_k, face, weight, out=out if k == 0 else None)
        if finer is not None:
            blended.add_(pyr_up(finer, blended.shape[-2:]))
        if k:
            finer = blended - template_k
    return blended


def multiband_blend(
    source: Tensor,
    template: Tensor,
    mask: Tensor,
    levels: int | None = None,
    keep_coarse: int = 2,
    erode: int | None = None,
    match_contrast: bool = True,
) -> Tensor:
    """Blend `source` into `template` where `mask` is 1, band by band.

    Differentiable in all three inputs; any device, any float dtype, any size.

    Args:
        source: (B, C, H, W) image to paste (the face).
        template: (B, C, H, W) image to paste into; the result equals it
            wherever the un-eroded mask is 0.
        mask: (B, 1, H, W) in [0, 1], 1 on the source's face.
        levels: pyramid depth; by default `default_levels(H, W)` (coarsest
            level 16-31 px, so a blend looks alike at every resolution), and
            at least one level more than `keep_coarse`.
        keep_coarse: coarsest levels taken from the template alone, so the
            face takes the template's lighting and colour.
        erode: erosion radius of the mask in pixels; by default the
            `leak_radius` of the mixed levels, the least that keeps every source
            pixel inside the mask. Smaller values let the seam spread outward.
        match_contrast: give each mixed source level the template's per-channel
            detail contrast inside the mask before mixing (the measure and why:
            `fusion.blend.contrast`); this also acts on the coarsest, low-pass
            level when keep_coarse is 0.

    Returns:
        (B, C, H, W) blend in the inputs' dtype.

    Example:
        >>> source, template = torch.rand(2, 2, 3, 250, 187)
        >>> mask = torch.zeros(2, 1, 250, 187)
        >>> mask[..., 40:210, 30:160] = 1
        >>> out = multiband_blend(source, template, mask)
        >>> out.shape
        torch.Size([2, 3, 250, 187])
        >>> bool((out - template)[..., mask[0, 0] == 0].abs().max() < 1e-6)
        True
        >>> torch.allclose(multiband_blend(source, source, mask), source)
        True
    """
    _check_inputs(source, template, mask)
    height, width = source.shape[-2:]
    levels = max(default_levels(height, width), keep_coarse + 1) if levels is None else levels
    mixed = levels - keep_coarse
    if keep_coarse < 0 or mixed < 1:
        raise ValueError(f"need 0 <= keep_coarse < levels, got keep_coarse={keep_coarse}, levels={levels}")
    radius = leak_radius(mixed) if erode is None else erode
    step = source.shape[0]
    if source.device.type == "cpu":
        step = max(1, _CPU_CHUNK_ELEMENTS // source[0].numel())
    if step >= source.shape[0]:
        return _blend(source, template, mask, levels, mixed, radius, match_contrast)
    chunks = zip(source.split(step), template.split(step), mask.split(step))
    if torch.is_grad_enabled() and any(x.requires_grad for x in (source, template, mask)):
        return torch.cat([_blend(s, t, m, levels, mixed, radius, match_contrast) for s, t, m in chunks])
    # Without autograd each chunk's last level lands in its slice of the
    # result: no concatenation copy of the whole batch at the end.
    out = torch.empty_like(source, memory_format=torch.contiguous_format)
    for rows, (s, t, m) in zip(out.split(step), chunks):
        _blend(s, t, m, levels, mixed, radius, match_contrast, out=rows)
    return out


class MultiBandBlend(nn.Module):
    """`multiband_blend` as a module, its options fixed at construction.

    Example:
        >>> blend = MultiBandBlend(keep_coarse=2)
        >>> source, template = torch.rand(2, 1, 3, 64, 64)
        >>> torch.equal(blend(source, template, torch.zeros(1, 1, 64, 64)), template)
        True
    """

    def __init__(
        self, levels: int | None = None, keep_coarse: int = 2, erode: int | None = None, match_contrast: bool = True
    ) -> None:
        super().__init__()
        self.levels = levels
        self.keep_coarse = keep_coarse
        self.erode = erode
        self.match_contrast = match_contrast

    def forward(self, source: Tensor, template: Tensor, mask: Tensor) -> Tensor:
        """`multiband_blend` of `source` into `template` under `mask`, with this module's options."""
        return multiband_blend(source, template, mask, self.levels, self.keep_coarse, self.erode, self.match_contrast)

    def extra_repr(self) -> str:
        """The fixed options, so that printing a model shows how it blends."""
        return (
            f"levels={self.levels}, keep_coarse={self.keep_coarse}, erode={self.erode}, "
            f"match_contrast={self.match_contrast}"
        )
