"""Gaussian and Laplacian pyramids in torch, sample for sample OpenCV's.

Down: blur with the 5-tap binomial [1, 4, 6, 4, 1] / 16 per axis and keep the
even samples, so an H-row level becomes ceil(H / 2) rows and any size works
(250 x 187 -> 125 x 94 -> 63 x 47 ...). Up: insert zeros and blur with twice
that kernel, cropped to the finer level's size. Borders are OpenCV's
(reflect-101, and pyr_up repeats the last coarse sample when the finer size is
even), so the results equal ``cv2.pyrDown``/``cv2.pyrUp`` to rounding.

Hand-written because kornia's ``pyrdown``/``pyrup``/``build_laplacian_pyramid``
are much slower and lose odd rows: they blur at full resolution with a dense
5x5 kernel and resample bilinearly to floor(H / 2). Each pass here is
polyphase, computing only the samples kept, as weighted sums of five (down)
or three (up) shifted slices written as lerps: plain element-wise ops, on
every device and in every float dtype, and differentiable; strided
``conv2d``, ``avg_pool2d`` cascades and ``interpolate(antialias=True)`` were
all slower. OpenCV's single-sweep C++ is still faster on CPU, because every
op here reads and writes the whole level once more. So where no gradient is
needed on a CPU float32 tensor (the swap's composite, targets, evaluation)
each plane goes through ``cv2.pyrDown``/``cv2.pyrUp`` themselves
(`fusion.blend.opencv`). Timings: docs/measurements.md and
``python -m fusion.bench blend``.
"""

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from fusion.blend.opencv import per_plane, uses_opencv

__all__ = [
    "collapse_laplacian",
    "default_levels",
    "gaussian_pyramid",
    "laplacian_pyramid",
    "pyr_down",
    "pyr_up",
    "pyr_up_even",
    "pyr_up_even_window",
    "pyr_up_window",
    "window_source",
]


def _check_image(image: Tensor) -> None:
    if image.dim() != 4:
        raise ValueError(f"expected a (B, C, H, W) tensor, got shape {tuple(image.shape)}")


def _binomial(taps: list[Tensor]) -> Tensor:
    """[1, 4, 6, 4, 1] / 16 of five equally shaped tensors, as four lerps (no separate scaling pass)."""
    outer = torch.lerp(taps[0], taps[4], 0.5)
    return outer.lerp_(torch.lerp(taps[1], taps[3], 0.5), 0.8).lerp_(taps[2], 6 / 16)


def pyr_down(image: Tensor) -> Tensor:
    """Blur and halve, like ``cv2.pyrDown``: (B, C, H, W) -> (B, C, ceil(H/2), ceil(W/2)).

    Example:
        >>> pyr_down(torch.ones(1, 3, 5, 8)).shape
        torch.Size([1, 3, 3, 4])
        >>> pyr_down(torch.ones(1, 1, 4, 4)).allclose(torch.ones(1, 1, 2, 2))
        True
    """
    _check_image(image)
    if min(image.shape[-2:]) < 3:
        raise ValueError(f"pyr_down needs at least 3 x 3 pixels, got {tuple(image.shape[-2:])}")
    rows, cols = ((n + 1) // 2 for n in image.shape[-2:])
    if uses_opencv(image):
        return per_plane(lambda src, dst: cv2.pyrDown(src, dst, (cols, rows)), image, (rows, cols))
    padded = F.pad(image, (2, 2, 2, 2), mode="reflect")
    halved = _binomial([padded[..., k : k + 2 * rows - 1 : 2, :] for k in range(5)])
    # Every column, then every other one: contiguous runs vectorise, stride-2
    # ones were slower even for half the output (docs/measurements.md).
    return _binomial([halved[..., k : k + 2 * cols - 1] for k in range(5)])[..., ::2]


def _interleave(even: Tensor, odd: Tensor, dim: int) -> Tensor:
    """Alternate the samples of `even` and `odd` along `dim` (-1 or -2)."""
    if dim == -1 and even.dtype in (torch.float32, torch.float64):
        # On CPU, stacking on a new last axis is a strided scatter, several
        # times dearer than an add; a complex tensor lays (real, imag) out in
        # the same order at the speed of an add (docs/measurements.md).
        return torch.view_as_real(torch.complex(even, odd)).flatten(-2)
    return torch.stack([even, odd], dim).flatten(dim - 1, dim)


def _neighbours(x: Tensor, dim: int) -> tuple[Tensor, Tensor, Tensor]:
    """Each sample's predecessor, itself and its successor along `dim`, as ``cv2.pyrUp`` sees them: beyond
    the ends the axis is reflected before its first sample and repeats its last one after (a single sample
    is its own neighbours)."""
    n = x.shape[dim]
    padded = torch.cat([x.narrow(dim, min(1, n - 1), 1), x, x.narrow(dim, n - 1, 1)], dim)
    return tuple(padded.narrow(dim, k, n) for k in range(3))


def _even_1d(before: Tensor, centre: Tensor, after: Tensor) -> Tensor:
    """The even samples of a doubled axis: [1, 6, 1] / 8 of each sample's neighbourhood."""
    return torch.lerp(before, after, 0.5).lerp_(centre, 0.75)


def _up_1d(x: Tensor, size: int, dim: int) -> Tensor:
    """Double axis `dim` (even samples [1, 6, 1] / 8, odd ones [1, 1] / 2), then crop it to `size`."""
    before, centre, after = _neighbours(x, dim)
    return _interleave(_even_1d(before, centre, after), torch.lerp(centre, after, 0.5), dim).narrow(dim, 0, size)


def pyr_up(image: Tensor, size: tuple[int, int]) -> Tensor:
    """Double and blur to `size` = (H, W), like ``cv2.pyrUp(image, dstsize=(W, H))``.

    Each of H, W must be twice the input side or one less, so pyr_up inverts
    the sizes of pyr_down exactly.

    Example:
        >>> pyr_up(torch.ones(1, 3, 3, 4), (5, 8)).allclose(torch.ones(1, 3, 5, 8))
        True
    """
    _check_image(image)
    h, w = image.shape[-2:]
    if size[0] not in (2 * h - 1, 2 * h) or size[1] not in (2 * w - 1, 2 * w):
        raise ValueError(f"pyr_up from {h} x {w} gives {2 * h} x {2 * w} or one less per side, not {size}")
    if min(h, w) < 2:
        raise ValueError(f"pyr_up needs at least 2 x 2 pixels, got {h} x {w}")
    if uses_opencv(image):
        return per_plane(lambda src, dst: cv2.pyrUp(src, dst, (size[1], size[0])), image, size)
    # Columns first: interleaving along the last axis is the dearer step, so
    # it runs on the smaller, half-doubled tensor.
    return _up_1d(_up_1d(image, size[1], -1), size[0], -2)


def pyr_up_even(image: Tensor) -> Tensor:
    """``pyr_up``'s even samples, ``pyr_up(image, (2H, 2W))[..., ::2, ::2]``, without the odd ones: (B, C, H, W)
    -> (B, C, H, W), each sample [1, 6, 1] / 8 of its neighbours along each axis.

    Example:
        >>> x = torch.rand(1, 2, 9, 6, dtype=torch.float64)
        >>> torch.allclose(pyr_up_even(x), pyr_up(x, (17, 12))[..., ::2, ::2])
        True
        >>> torch.allclose(pyr_up_even(x.float()), pyr_up(x.float(), (18, 11))[..., ::2, ::2])  # OpenCV's
        True
    """
    _check_image(image)
    if uses_opencv(image):
        return per_plane(_up_even_plane, image, image.shape[-2:])
    return _even_1d(*_neighbours(_even_1d(*_neighbours(image, -1)), -2))


#: pyr_up's taps at the even samples, and the identity tap (OpenCV's separable filter wants both axes').
_EVEN_TAPS, _ONE_TAP = np.array([1, 6, 1], np.float32) / 8, np.ones(1, np.float32)


def _up_even_plane(src: np.ndarray, dst: np.ndarray) -> None:
    """`pyr_up_even` of one float32 plane into `dst`: the taps along rows, then columns."""
    dst[:] = _up_even_axis(_up_even_axis(src, 1), 0)


def _up_even_axis(plane: np.ndarray, axis: int) -> np.ndarray:
    """The taps along `axis` of a float32 plane by OpenCV, reflected before the first sample; pyr_up repeats
    the last sample instead, so the last one is redone (a single sample is its own neighbours)."""
    if plane.shape[axis] == 1:
        return plane
    taps = (_EVEN_TAPS, _ONE_TAP) if axis == 1 else (_ONE_TAP, _EVEN_TAPS)
    out = cv2.sepFilter2D(plane, -1, *taps, borderType=cv2.BORDER_REFLECT_101)
    last, before = (plane[:, -1], plane[:, -2]) if axis == 1 else (plane[-1], plane[-2])
    end = before * np.float32(0.125) + last * np.float32(0.875)
    if axis == 1:
        out[:, -1] = end
    else:
        out[-1] = end
    return out


def pyr_up_even_window(image: Tensor, top: int, left: int, height: int, width: int) -> Tensor:
    """``pyr_up_even(image)[..., top:top + height, left:left + width]`` from that crop of `image` and one sample
    more on each side, where the image has it (so the crop's edges inside the image see their neighbours).

    Example:
        >>> x = torch.rand(1, 2, 20, 17)
        >>> torch.allclose(pyr_up_even_window(x, 3, 0, 9, 17), pyr_up_even(x)[..., 3:12, :])
        True
    """
    first_row, first_col = max(top - 1, 0), max(left - 1, 0)
    context = image[..., first_row:top + height + 1, first_col:left + width + 1]
    top, left = top - first_row, left - first_col
    return pyr_up_even(context)[..., top:top + height, left:left + width]


def window_source(coarse_shape: tuple[int, int], size: tuple[int, int], top: int, left: int, height: int,
                  width: int) -> tuple[tuple[int, int, int, int], tuple[int, int]]:
    """Where the window (`top`, `left`, `height`, `width`) of ``pyr_up(image, size)`` comes from: the crop
    (first row, first column, rows, columns) of the coarse `image` it reads, one sample more on each side (so
    no border rule reaches inside the window) and starting on an even sample (so the crop can be a window
    of its own level), and the size that crop upsamples to as a level of its own (where it reaches the
    level's end, the full level's, so the end keeps its border rule).

    Example:
        >>> window_source((20, 17), (40, 33), 6, 4, 11, 29)
        ((2, 0, 8, 17), (16, 33))
    """
    first_row, first_col = max(top // 2 - 1, 0), max(left // 2 - 1, 0)
    first_row, first_col = first_row - first_row % 2, first_col - first_col % 2
    last_row = min((top + height + 1) // 2 + 1, coarse_shape[0])
    last_col = min((left + width + 1) // 2 + 1, coarse_shape[1])
    rows = size[0] - 2 * first_row if last_row == coarse_shape[0] else 2 * (last_row - first_row)
    cols = size[1] - 2 * first_col if last_col == coarse_shape[1] else 2 * (last_col - first_col)
    return (first_row, first_col, last_row - first_row, last_col - first_col), (rows, cols)


def pyr_up_window(image: Tensor, size: tuple[int, int], top: int, left: int, height: int, width: int) -> Tensor:
    """``pyr_up(image, size)[..., top:top + height, left:left + width]`` for even `top` and `left`, from only
    the coarse samples that window needs (`window_source`).

    Example:
        >>> x = torch.rand(1, 2, 20, 17)
        >>> torch.allclose(pyr_up_window(x, (40, 33), 6, 4, 11, 29), pyr_up(x, (40, 33))[..., 6:17, 4:33])
        True
    """
    if top % 2 or left % 2:
        raise ValueError(f"the window must start on the coarse grid (even top and left), got {top}, {left}")
    if (top, left, height, width) == (0, 0, *size):
        return pyr_up(image, size)
    (first_row, first_col, rows, cols), fine = window_source(image.shape[-2:], size, top, left, height, width)
    if rows < 2 or cols < 2:
        return pyr_up(image, size)[..., top:top + height, left:left + width]
    up = pyr_up(image[..., first_row:first_row + rows, first_col:first_col + cols], fine)
    top, left = top - 2 * first_row, left - 2 * first_col
    return up[..., top:top + height, left:left + width]


def default_levels(height: int, width: int) -> int:
    """Pyramid depth for an image: the coarsest level is 16 to 31 pixels on its short side.

    Tied to the image size, so that a blend looks the same at every training
    resolution: each level covers the same fraction of the face. It trades
    two faults of a blend that takes its coarse levels from the template: a
    shallower pyramid leaves the template's features (eyes, glasses) in those
    levels, showing through the face; a deeper one mixes coarser levels,
    whose seams need a wider erosion (`fusion.blend.erosion`), shrinking the
    face. 16-31 px looked best on real faces (`python -m fusion.demo.blend_sheet`;
    the shallower and deeper choices: docs/measurements.md).

    Example:
        >>> default_levels(256, 256), default_levels(250, 187), default_levels(1024, 1024)
        (5, 4, 7)
    """
    return max(1, int(math.log2(min(height, width))) - 3)


def gaussian_pyramid(image: Tensor, levels: int) -> list[Tensor]:
    """[image, pyr_down(image), ...]: `levels` tensors, finest first.

    Example:
        >>> [tuple(g.shape[-2:]) for g in gaussian_pyramid(torch.rand(1, 3, 250, 187), 4)]
        [(250, 187), (125, 94), (63, 47), (32, 24)]
    """
    _check_image(image)
    if levels < 1:
        raise ValueError(f"levels must be at least 1, got {levels}")
    pyramid = [image]
    for level in range(1, levels):
        if min(pyramid[-1].shape[-2:]) < 3:
            raise ValueError(
                f"{levels} levels are too many for {tuple(image.shape[-2:])} pixels: level {level - 1} "
                f"is {tuple(pyramid[-1].shape[-2:])}, and halving needs at least 3 x 3"
            )
        pyramid.append(pyr_down(pyramid[-1]))
    return pyramid


def laplacian_pyramid(image: Tensor, levels: int) -> list[Tensor]:
    """Band-pass levels G_k - pyr_up(G_k+1), finest first, then the coarsest Gaussian level.

    Example:
        >>> x = torch.rand(2, 3, 250, 187, dtype=torch.float64)
        >>> pyramid = laplacian_pyramid(x, 5)
        >>> [tuple(p.shape[-2:]) for p in pyramid]
        [(250, 187), (125, 94), (63, 47), (32, 24), (16, 12)]
        >>> torch.allclose(collapse_laplacian(pyramid), x)
        True
    """
    gaussian = gaussian_pyramid(image, levels)
    bands = [fine - pyr_up(coarse, fine.shape[-2:]) for fine, coarse in zip(gaussian, gaussian[1:])]
    return bands + gaussian[-1:]


def collapse_laplacian(pyramid: list[Tensor]) -> Tensor:
    """Invert laplacian_pyramid: upsample from the coarsest level, adding each band."""
    image = pyramid[-1]
    for band in reversed(pyramid[:-1]):
        image = pyr_up(image, band.shape[-2:]).add_(band)
    return image
