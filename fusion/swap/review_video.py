"""A side-by-side review video: the plate on the left, the swap on the right.

For dailies, not delivery: 8-bit H.264 at a reduced height, whatever the
output's format, so a 4K EXR shot can be checked in any player.
"""

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from fusion.io.atomic import StagedOutputs
from fusion.io.image import to_uint8
from fusion.io.video import VideoWriter


def side_by_side(plate: np.ndarray, swapped: np.ndarray, height: int) -> np.ndarray:
    """(height, ~2 * width * height / H, 3) uint8: plate | swap, scaled to `height` (even sizes for H.264).

    >>> side_by_side(np.zeros((100, 60, 3), np.uint8), np.ones((100, 60, 3), np.uint16), 50).shape
    (50, 60, 3)
    """
    scale = min(1.0, height / plate.shape[0])
    size = (max(2, int(round(plate.shape[1] * scale / 2)) * 2), max(2, int(round(plate.shape[0] * scale / 2)) * 2))
    halves = [cv2.resize(to_uint8(image), size, interpolation=cv2.INTER_AREA) for image in (plate, swapped)]
    return np.concatenate(halves, axis=1)


class PreviewWriter(VideoWriter):
    """A `VideoWriter` taking (plate, swap) pairs."""

    def __init__(self, path: Path, height: int = 540, fps: float | Fraction = 24.0,
                 staged: StagedOutputs | None = None):
        super().__init__(path, fps, "h264", quality=7, staged=staged)
        self.height = height

    def write_pair(self, plate: np.ndarray, swapped: np.ndarray) -> None:
        """Append one frame: plate | swap side by side, scaled to the preview's height."""
        self.write(side_by_side(plate, swapped, self.height))
