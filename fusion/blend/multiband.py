"""Multi-band (Burt-Adelson) blending of a face into a template, with contrast alignment.

The blended pyramid takes the template's `keep_coarse` coarsest levels (its
lighting and color) and mixes the finer bands S_k (source) and T_k (template)
by the Gaussian pyramid w_k of the eroded mask, each seam as soft as its band's
frequencies. Collapsed from coarse to fine, the image at level k is

    O_k = lerp(Gt_k, gain_k * S_k + offset_k + pyr_up(Gt_k+1), w_k) + pyr_up(O_k+1 - Gt_k+1)

(G the Gaussian levels; the coarsest mixed level has O_k+1 = Gt_k+1), with
gain_k * S_k + offset_k the source band at the template's contrast
(`fusion.blend.contrast`; at most 1 on the bands finer than the source
resolves, `source_scale`). Since S_k = Gs_k - pyr_up(Gs_k+1) and pyr_up is
linear and keeps constants, the bracket is
gain_k * Gs_k + pyr_up(Gt_k+1 - gain_k * Gs_k+1 + offset_k):
two upsamplings per level instead of the three of building both Laplacian
pyramids and collapsing one, no level coarser than the first kept one is
built, and the result is exactly the template where every w_k is 0. So the finest level, the
costliest, is blended only inside each image's mask box grown by the blend's reach past the eroded
mask, and the template is copied around it; without autograd on large images each coarser level is
blended too only where the next finer one reads it, and each coarse difference is taken only there.
"""

import math

import numpy as np
import torch
from torch import Tensor, nn

from fusion.blend.contrast import MAX_GAIN, contrast_gain, detail_contrast_gain
from fusion.blend.erosion import erode_mask, leak_radius
from fusion.blend.opencv import uses_opencv
from fusion.blend.pyramid import (default_levels, gaussian_pyramid, pyr_down, pyr_up_even_window, pyr_up_window,
                                  window_source)
from fusion.checks import check_shape

__all__ = ["MultiBandBlend", "multiband_blend", "unresolved_levels"]

#: On CPU the batch is blended in chunks of about this many elements per image
#: tensor (2 MB in float32): torch allocates every intermediate afresh, and
#: once they outgrow the caches (and glibc's mmap threshold, so that each new
#: page faults) a whole batch blends slower per image than chunks of one or
#: two images (docs/measurements.md).
_CPU_CHUNK_ELEMENTS = 2**19

#: The dtypes numpy can allocate a result in (`_result_like`).
_NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}

#: An image's finest level is blended inside its window (and the erosion runs inside the batch's mask
#: box) where that is under this share of the image; above it, copying around it costs what it saves.
_WINDOW_SHARE = 0.9

#: Without autograd, images of at least this many pixels blend their coarse levels too inside each image's
#: windows, one image at a time; on smaller ones those extra calls cost more than the pixels they skip.
_COARSE_WINDOWS_FROM = 2**17


def unresolved_levels(source_scale: float) -> int:
    """How many of the finest pyramid bands lie beyond a source warped up by `source_scale`: those whose
    middle frequency passes the source's own Nyquist frequency (level k's band is centred on a period of
    about 2^(k + 1.5) pixels, the Nyquist period is 2 * source_scale).

    >>> [unresolved_levels(scale) for scale in (0.5, 1, 1.4, 2, 3, 4, 8)]
    [0, 0, 0, 1, 2, 2, 3]
    """
    if not source_scale > 0:
        raise ValueError(f"source_scale must be a positive number of pixels per source sample, got {source_scale}")
    return max(0, math.ceil(math.log2(source_scale) - 0.5))


def _check_inputs(source: Tensor, template: Tensor, mask: Tensor) -> None:
    sizes = check_shape(source, "B C H W", "source")
    check_shape(template, "B C H W", "template", sizes)
    check_shape(mask, "B 1 H W", "mask", sizes)
    if not source.is_floating_point() or template.dtype != source.dtype:
        raise ValueError(f"source and template must share one float dtype, got {source.dtype} and {template.dtype}")
    if not mask.is_floating_point():
        raise ValueError(f"mask must be a float tensor in [0, 1], got {mask.dtype}")


def mask_box(mask: Tensor) -> tuple[int, int, int, int] | None:
    """(top, left, height, width) of the smallest box holding every nonzero pixel of the batch's masks, with
    an even top and left (on the next level's sample grid); None where every mask is 0.

    Example:
        >>> mask = torch.zeros(2, 1, 10, 12)
        >>> mask[0, 0, 3:6, 5:7] = 1
        >>> mask[1, 0, 4, 9] = 0.5
        >>> mask_box(mask), mask_box(torch.zeros(1, 1, 4, 4))
        ((2, 4, 4, 6), None)
    """
    return _union(_image_boxes(mask))


def _image_boxes(mask: Tensor) -> list[tuple[int, int, int, int] | None]:
    """`mask_box` of each image of the batch, from one reduction per axis of the whole batch."""
    mask = mask.detach()
    height = mask.shape[2]
    hits = (torch.cat([mask.amax(dim=(1, 3)), mask.amax(dim=(1, 2))], 1) > 0).cpu().numpy()
    boxes = []
    for hit in hits:
        rows, cols = np.flatnonzero(hit[:height]), np.flatnonzero(hit[height:])
        if rows.size == 0:
            boxes.append(None)
            continue
        top, left = int(rows[0]) - int(rows[0]) % 2, int(cols[0]) - int(cols[0]) % 2
        boxes.append((top, left, int(rows[-1]) + 1 - top, int(cols[-1]) + 1 - left))
    return boxes


def _union(boxes: list[tuple[int, int, int, int] | None]) -> tuple[int, int, int, int] | None:
    """The smallest box holding every box of `boxes` (None ones hold nothing)."""
    boxes = [box for box in boxes if box is not None]
    if not boxes:
        return None
    top, left = min(box[0] for box in boxes), min(box[1] for box in boxes)
    return top, left, max(box[0] + box[2] for box in boxes) - top, max(box[1] + box[3] for box in boxes) - left


def _grown(box: tuple[int, int, int, int], margin: int, height: int, width: int) -> tuple[int, int, int, int]:
    """`box` grown by `margin` pixels on every side within a height x width image, its top and left kept even."""
    top, left = max(box[0] - margin, 0), max(box[1] - margin, 0)
    top, left = top - top % 2, left - left % 2
    return top, left, min(box[0] + box[2] + margin, height) - top, min(box[1] + box[3] + margin, width) - left


def _erode_within(mask: Tensor, radius: int, box: tuple[int, int, int, int]) -> Tensor:
    """``erode_mask(mask, radius)`` computed inside `box` only: outside it the mask is 0, and so its erosion."""
    top, left, height, width = box
    first_row, first_col = max(top - radius, 0), max(left - radius, 0)
    around = mask[..., first_row:top + height + radius, first_col:left + width + radius]
    core = erode_mask(around, radius)[..., top - first_row:top - first_row + height, left - first_col:left - first_col + width]
    eroded = torch.zeros_like(mask)
    eroded[..., top:top + height, left:left + width] = core
    return eroded


def _band(k: int, pyramid: list, depth: int, finer: Tensor | None, box: tuple[int, int, int, int],
          ceilings: tuple[float, ...] | None, out: Tensor | None = None) -> Tensor:
    """Level `k` of the blended pyramid inside `box` (its top and left even): O_k of the module docstring, the
    source's contrast matched with a gain of at most ``ceilings[k]`` (None: not matched)."""
    size = pyramid[k][0].shape[-2:]
    top, left, rows, cols = box
    # Slicing costs about as much as a small operation: a whole level is used as it is.
    whole = box == (0, 0, *size)
    face, template, weight = (x if whole else x[_inside(box)] for x in pyramid[k])
    if k + 1 < depth:
        coarse_source, coarse_template, _ = pyramid[k + 1]
        if ceilings is not None:
            # Only the samples where the weight can be nonzero (inside the box) count.
            half = (top // 2, left // 2, (top + rows + 1) // 2 - top // 2, (left + cols + 1) // 2 - left // 2)
            gain, offset = detail_contrast_gain(face, pyr_up_even_window(coarse_source, *half), template,
                                                pyr_up_even_window(coarse_template, *half), weight, ceilings[k])
            face = _upsampled_difference(coarse_template, coarse_source, size, box, gain, offset).addcmul_(face, gain)
        else:
            face = face + _upsampled_difference(coarse_template, coarse_source, size, box)
    elif ceilings is not None:
        gain, offset = contrast_gain(face, template, weight, ceilings[k])
        face = (face * gain).add_(offset)
    blended = torch.lerp(template, face, weight, out=out)
    if finer is not None:
        blended.add_(pyr_up_window(finer, size, top, left, rows, cols))
    return blended


def _upsampled_difference(coarse_template: Tensor, coarse_source: Tensor, size: torch.Size,
                          box: tuple[int, int, int, int], gain: Tensor | None = None,
                          offset: Tensor | None = None) -> Tensor:
    """``pyr_up_window(coarse_template - gain * coarse_source + offset, size, *box)``, the difference taken
    only over the coarse samples that the window reads."""
    crop, fine = window_source(coarse_template.shape[-2:], size, *box)
    template, source = coarse_template[_inside(crop)], coarse_source[_inside(crop)]
    if gain is None:
        difference = template - source
    else:
        # pyr_up keeps a constant, so the offset joins the coarse
        # difference: a broadcast `self` makes addcmul much slower.
        difference = torch.addcmul(template, source, gain, value=-1).add_(offset)
    return pyr_up_window(difference, fine, box[0] - 2 * crop[0], box[1] - 2 * crop[1], box[2], box[3])


def _pyramids(source: Tensor, template: Tensor, mask: Tensor, box: tuple[int, int, int, int], depth: int,
              radius: int) -> list:
    """(source, template, weight) at each of `depth` levels, the weight being the eroded mask's pyramid."""
    height, width = source.shape[-2:]
    mask = mask.to(source.dtype)
    # A minimum filter is exact anywhere, so the erosion runs inside the batch's box when that is smaller.
    inside = box[2] * box[3] < _WINDOW_SHARE * height * width
    pyramid = [(source, template, _erode_within(mask, radius, box) if inside else erode_mask(mask, radius))]
    if depth > 1 and uses_opencv(source) and uses_opencv(template) and uses_opencv(mask):
        # OpenCV resamples plane by plane: stacking would only add a copy.
        pyramid += zip(*(gaussian_pyramid(pyr_down(x), depth - 1) for x in pyramid[0]))
    elif depth > 1:
        # Past level 0 the three go down as one tensor: a third of the calls,
        # most of the cost at small sizes (level 0 itself would be a copy).
        channels = source.shape[1]
        stacked = gaussian_pyramid(torch.cat([pyr_down(x) for x in pyramid[0]], 1), depth - 1)
        pyramid += [(g[:, :channels], g[:, channels:-1], g[:, -1:]) for g in stacked]
    return pyramid


def _blend(source: Tensor, template: Tensor, mask: Tensor, levels: int, mixed: int, radius: int,
           ceilings: tuple[float, ...] | None, out: Tensor | None = None) -> Tensor:
    """The blend of one chunk: into `out` (its slice of the result) without autograd, else a new tensor."""
    height, width = source.shape[-2:]
    depth = min(mixed + 1, levels)
    boxes = _image_boxes(mask)
    box = _union(boxes)
    if box is None:  # no face anywhere: the template, exactly
        return template.clone() if out is None else out.copy_(template)
    pyramid = _pyramids(source, template, mask, box, depth, radius)
    # Each image inside its own window (so that an image's blend never depends on its batch): its mask's box
    # grown by how far the blend spreads past the eroded mask.
    whole = (0, 0, height, width)
    reach = max(leak_radius(mixed) - radius, 0)
    windows = [None if own is None else _grown(own, reach, height, width) for own in boxes]
    windows = [whole if w is not None and w[2] * w[3] >= _WINDOW_SHARE * height * width else w for w in windows]
    # Without autograd on large images, each image's coarse levels too are blended inside its windows;
    # otherwise the coarse levels are blended whole, for the chunk at once.
    alone = out is not None and height * width >= _COARSE_WINDOWS_FROM
    finer = None
    for k in reversed(range(1, 1 if alone else mixed)):
        finer = _band(k, pyramid, depth, finer, (0, 0, *pyramid[k][0].shape[-2:]), ceilings).sub_(pyramid[k][1])
    rows = []
    for j, window in enumerate(windows):
        row = None if out is None else out[j:j + 1]
        if window is None:
            rows.append(template[j:j + 1].clone() if row is None else row.copy_(template[j:j + 1]))
            continue
        image = [tuple(x[j:j + 1] for x in level) for level in pyramid[:None if alone else 2]]
        if alone:
            image_finer = _coarse_bands(image, window, depth, mixed, ceilings)
        else:
            image_finer = None if finer is None else finer[j:j + 1]
        if row is not None and window != whole:
            row.copy_(template[j:j + 1])
        band = _band(0, image, depth, image_finer, window, ceilings, None if row is None else row[_inside(window)])
        if row is None:
            row = band if window == whole else _placed(template[j:j + 1], band, window)
        rows.append(row)
    if out is not None:
        return out
    return rows[0] if len(rows) == 1 else torch.cat(rows)


def _coarse_bands(image: list, window: tuple[int, int, int, int], depth: int, mixed: int,
                  ceilings: tuple[float, ...] | None) -> Tensor | None:
    """O_1 - Gt_1 of one image, each coarse level blended only inside the part of it that the next finer
    level reads for `window` (the rest of each level is left unwritten: nothing reads it).
    """
    chain = [window]
    for k in range(1, mixed):
        chain.append(window_source(image[k][0].shape[-2:], image[k - 1][0].shape[-2:], *chain[-1])[0])
    finer = None
    for k in reversed(range(1, mixed)):
        level, inside = torch.empty_like(image[k][1]), _inside(chain[k])
        _band(k, image, depth, finer, chain[k], ceilings, level[inside]).sub_(image[k][1][inside])
        finer = level
    return finer


def _inside(box: tuple[int, int, int, int]) -> tuple:
    """The index of `box` in a (B, C, H, W) tensor."""
    top, left, rows, cols = box
    return ..., slice(top, top + rows), slice(left, left + cols)


def _placed(template: Tensor, band: Tensor, box: tuple[int, int, int, int]) -> Tensor:
    """`template` with `band` inside `box`."""
    result = template.clone()
    result[_inside(box)] = band
    return result


def multiband_blend(
    source: Tensor,
    template: Tensor,
    mask: Tensor,
    levels: int | None = None,
    keep_coarse: int = 2,
    erode: int | None = None,
    match_contrast: bool = True,
    source_scale: float = 1.0,
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
            face takes the template's lighting and color.
        erode: erosion radius of the mask in pixels; by default the
            `leak_radius` of the mixed levels, the least that keeps every source
            pixel inside the mask. Smaller values let the seam spread outward.
        match_contrast: give each mixed source level the template's per-channel
            detail contrast inside the mask before mixing (the measure and why:
            `fusion.blend.contrast`); this also acts on the coarsest, low-pass
            level when keep_coarse is 0.
        source_scale: how many pixels of `source` one sample of its own spans
            (a 128 px face warped into a plate at 512 px: 4). The
            `unresolved_levels` finest bands hold no detail of the source's,
            only interpolation residue, so contrast matching never raises them.

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
    ceilings = None
    if match_contrast:
        unresolved = unresolved_levels(source_scale)
        ceilings = tuple(1.0 if k < unresolved else MAX_GAIN for k in range(levels))
    step = source.shape[0]
    if source.device.type == "cpu":
        step = max(1, _CPU_CHUNK_ELEMENTS // source[0].numel())
    chunks = zip(source.split(step), template.split(step), mask.split(step))
    if torch.is_grad_enabled() and any(x.requires_grad for x in (source, template, mask)):
        if step >= source.shape[0]:
            return _blend(source, template, mask, levels, mixed, radius, ceilings)
        return torch.cat([_blend(s, t, m, levels, mixed, radius, ceilings) for s, t, m in chunks])
    # Without autograd each chunk's last level lands in its slice of the
    # result: no concatenation copy of the whole batch at the end.
    out = _result_like(source)
    for rows, (s, t, m) in zip(out.split(step), chunks):
        _blend(s, t, m, levels, mixed, radius, ceilings, out=rows)
    return out


def _result_like(source: Tensor) -> Tensor:
    """An uninitialised, contiguous tensor for the blend of `source`.

    On CPU numpy allocates it where it can: numpy asks the kernel for transparent huge pages for large
    arrays (as OpenCV's outputs get them), so that first writing a fresh batch-sized result takes a few
    hundred page faults instead of tens of thousands (docs/measurements.md).
    """
    numpy_dtype = _NUMPY_DTYPES.get(source.dtype)
    if source.device.type != "cpu" or numpy_dtype is None:
        return torch.empty_like(source, memory_format=torch.contiguous_format)
    return torch.from_numpy(np.empty(tuple(source.shape), numpy_dtype))


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
