"""Per-crop quality statistics stored in the cache index.

Sharpness is the variance of the Laplacian inside the face mask, measured at a
fixed 256 px so that scores compare across cache resolutions; motion-blurred or
defocused frames score low and can be dropped when a stage pack is drawn.
"""

import cv2
import numpy as np

from fusion.io.image import to_uint8

_MEASURE_SIZE = 256


def sharpness(crop: np.ndarray, mask: np.ndarray) -> float:
    """Variance of the Laplacian of the grey crop inside the mask (8-bit scale).

    >>> flat = np.full((64, 64, 3), 128, np.uint8)
    >>> sharpness(flat, np.full((64, 64), 255, np.uint8))
    0.0
    """
    grey = cv2.cvtColor(to_uint8(crop), cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, (_MEASURE_SIZE, _MEASURE_SIZE), interpolation=cv2.INTER_AREA)
    inside = cv2.resize(mask, (_MEASURE_SIZE, _MEASURE_SIZE), interpolation=cv2.INTER_NEAREST) > 127
    if not inside.any():
        return 0.0
    return float(cv2.Laplacian(grey.astype(np.float32), cv2.CV_32F)[inside].var())
