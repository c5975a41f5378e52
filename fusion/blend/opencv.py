"""OpenCV standing in for torch where no gradient is needed: CPU float32 tensors, plane by plane.

The blend's pyramids, erosion and contrast statistics have torch forms
(differentiable, any device and dtype) and, for CPU float32 that no gradient
flows through (the swap's composite, targets, evaluation), OpenCV's (and for
the statistics numpy's) C code with the same numbers to float rounding (exactly,
for the erosion): a path chosen per call, never a different result for training.
"""

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

__all__ = ["per_plane", "uses_opencv"]


def uses_opencv(image: Tensor) -> bool:
    """True where OpenCV can stand in: CPU float32 that no gradient flows through.

    Example:
        >>> x = torch.rand(1, 3, 8, 8)
        >>> uses_opencv(x), uses_opencv(x.requires_grad_()), uses_opencv(x.double())
        (True, False, False)
    """
    needs_grad = torch.is_grad_enabled() and image.requires_grad
    return image.device.type == "cpu" and image.dtype == torch.float32 and not needs_grad


def per_plane(function: Callable[[np.ndarray, np.ndarray], object], image: Tensor, size: tuple[int, int]) -> Tensor:
    """Apply an OpenCV function (`src`, `dst`) to every (H, W) plane of `image`, into a (..., *size) tensor.

    Example:
        >>> import cv2
        >>> per_plane(lambda src, dst: cv2.pyrDown(src, dst, (4, 3)), torch.ones(2, 3, 5, 8), (3, 4)).shape
        torch.Size([2, 3, 3, 4])
    """
    if image.stride(-1) != 1:
        image = image.contiguous()
    # A crop of a larger image goes in as it is: OpenCV reads rows `step` bytes apart, so only the
    # leading dimensions need merging.
    planes = image.numpy().reshape(-1, *image.shape[-2:])
    out = np.empty((planes.shape[0], *size), np.float32)
    for plane, result in zip(planes, out):
        function(plane, result)
    return torch.from_numpy(out).reshape(*image.shape[:-2], *size)
