"""Plates degraded on purpose, to measure color and quality matching where they have work to do.

`evaluate.py plate_grade=warm plate_blur=1.5 plate_jpeg=30` scores the held-out
crops after a fixed grade (`fusion.color.grades.WARM`), a Gaussian blur and
JPEG compression, in that order: the encoder sees them as it would see such a
plate, and the swap is composited into them.
"""

import cv2
import numpy as np
import torch

from fusion.color.grades import WARM
from fusion.eval.options import check_degradation
from fusion.io.image import decode
from fusion.swap.compression import jpeg_roundtrip

def degrade(crops: torch.Tensor, grade: str = "none", blur: float = 0.0, jpeg: int = 0) -> torch.Tensor:
    """(B, 3, H, W) crops in [0, 1] graded, blurred by `blur` px and JPEG-compressed at `jpeg` (0: not).

    >>> crops = torch.rand(2, 3, 32, 32)
    >>> torch.equal(degrade(crops), crops), bool((degrade(crops, "warm") - crops).abs().mean() > 0.02)
    (True, True)
    """
    check_degradation(grade, blur, jpeg)
    if grade == "warm":
        crops = WARM(crops)  # one grade's parameters broadcast over the batch
    if not blur and not jpeg:
        return crops
    images = []
    for image in crops.permute(0, 2, 3, 1).numpy():
        image = cv2.GaussianBlur(image, (0, 0), blur) if blur else image
        image = jpeg_roundtrip(decode(image, np.uint8), jpeg) / np.float32(255) if jpeg else image
        images.append(image)
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float()
