"""Per-crop quality statistics stored in the cache index.

Sharpness is `fusion.metrics.sharpness.structure_sharpness` (fine detail that
follows the face's structure, so noise does not pass for detail) inside the
face mask, measured at a fixed 256 px so that scores compare across cache
resolutions, in 8-bit levels squared; motion-blurred or defocused frames score
low and can be dropped when a stage pack is drawn.
"""

import cv2
import numpy as np
import torch

from fusion.io.image import to_uint8
from fusion.metrics.sharpness import structure_sharpness

_MEASURE_SIZE = 256


def sharpness(crop: np.ndarray, mask: np.ndarray) -> float:
    """`structure_sharpness` of the (H, W, 3) crop inside the (H, W) 8-bit mask, at 256 px (8-bit scale).

    >>> flat = np.full((64, 64, 3), 128, np.uint8)
    >>> sharpness(flat, np.full((64, 64), 255, np.uint8))
    0.0
    """
    image = cv2.resize(to_uint8(crop), (_MEASURE_SIZE, _MEASURE_SIZE), interpolation=cv2.INTER_AREA)
    inside = cv2.resize(mask, (_MEASURE_SIZE, _MEASURE_SIZE), interpolation=cv2.INTER_NEAREST) > 127
    if not inside.any():
        return 0.0
    images = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    return float(structure_sharpness(images, torch.from_numpy(inside)[None, None].float())) * 255**2
