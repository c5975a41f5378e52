"""A 3x3 conv of a nearest-upsampled input, as one transposed conv of the coarse input.

Nearest upsampling repeats each pixel 2x2, so output row 2i of ``conv3x3(upsample2x(x))`` sees coarse rows
i - 1 and i, and row 2i + 1 rows i and i + 1 (columns alike): a stride-2 transposed conv whose 4x4 kernel
taps are sums of the 3x3 kernel's. The same function with the same parameters, 16 instead of 36
multiply-adds per coarse pixel and channel pair, and no upsampled tensor. Folding the kernel costs a pass
over the weights at every call, so the decoder levels take this path only from coarse maps of
`FOLD_FROM` px up, where it is the faster one (docs/measurements.md).
"""

import torch
import torch.nn.functional as F
from torch import nn

from fusion.checks import check_shape

FOLD_FROM = 16
"""Smallest coarse side (px) at which `UpsampleConv3x3` runs the transposed conv rather than upsample + conv."""

_TAPS = torch.tensor([[0.0, 0.0, 1.0],   # transposed tap 0: odd output rows, coarse row i + 1
                      [0.0, 1.0, 1.0],   # tap 1: even output rows, coarse row i
                      [1.0, 1.0, 0.0],   # tap 2: odd output rows, coarse row i
                      [1.0, 0.0, 0.0]])  # tap 3: even output rows, coarse row i - 1
"""(4 taps of the stride-2, padding-1 transposed kernel, 3 taps of the 3x3 kernel), per axis."""


def transposed_kernel(weight: torch.Tensor) -> torch.Tensor:
    """(C_out, C_in, 3, 3) conv weight -> the (C_in, C_out, 4, 4) transposed-conv weight of the same map on the
    coarse input.

    >>> transposed_kernel(torch.ones(1, 1, 3, 3))[0, 0]
    tensor([[1., 2., 2., 1.],
            [2., 4., 4., 2.],
            [2., 4., 4., 2.],
            [1., 2., 2., 1.]])
    """
    check_shape(weight, "O I 3 3", "weight")
    taps = _TAPS.to(weight.device, weight.dtype)
    out_channels, in_channels = weight.shape[:2]
    # One (C_in C_out, 9) x (9, 16) product, laid out as the transposed conv reads it.
    folded = weight.transpose(0, 1).reshape(in_channels * out_channels, 9) @ torch.kron(taps, taps).T
    return folded.view(in_channels, out_channels, 4, 4)


def upsample_conv3x3(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), weight, bias, padding=1)``, computed as a
    transposed conv of ``x``.

    >>> x, weight, bias = torch.randn(2, 3, 5, 5), torch.randn(4, 3, 3, 3), torch.randn(4)
    >>> reference = F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), weight, bias, padding=1)
    >>> torch.allclose(upsample_conv3x3(x, weight, bias), reference, atol=1e-5)
    True
    """
    check_shape(x, f"B {weight.shape[1]} H W", "x")
    return F.conv_transpose2d(x, transposed_kernel(weight), bias, stride=2, padding=1)


class UpsampleConv3x3(nn.Conv2d):
    """A 3x3 "same" conv that takes the nearest-upsampled input's place: ``forward(x)`` equals
    ``Conv2d.forward(upsample2x(x))``, by :func:`upsample_conv3x3` from `FOLD_FROM` px up. Its state is a
    plain Conv2d's.

    >>> layer = UpsampleConv3x3(3, 4)
    >>> layer(torch.zeros(2, 3, 8, 8)).shape, layer(torch.zeros(1, 3, 16, 16)).shape
    (torch.Size([2, 4, 16, 16]), torch.Size([1, 4, 32, 32]))
    """

    def __init__(self, in_channels: int, out_channels: int, device=None, dtype=None):
        super().__init__(in_channels, out_channels, 3, padding=1, device=device, dtype=dtype)

    def extra_repr(self) -> str:
        """Channels, and that the input is upsampled 2x first."""
        return f"{self.in_channels} -> {self.out_channels} channels, 3x3 after 2x nearest upsampling"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, H, W) -> (B, C_out, 2H, 2W)."""
        if min(x.shape[-2:]) >= FOLD_FROM:
            return upsample_conv3x3(x, self.weight, self.bias)
        return super().forward(F.interpolate(x, scale_factor=2, mode="nearest"))
