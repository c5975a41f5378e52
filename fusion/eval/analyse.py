"""What `evaluate` measures of each face it sees: dlib's identity descriptor and 68 landmarks.

Both are computed on crops enlarged to 512 px: dlib's networks expect faces of
~150 px, and the model's crops are smaller.
"""

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from fusion.eval.identity import FaceDescriber
from fusion.faces.align import rescaled_points
from fusion.faces.landmarks import jittered_landmarks, load_backend

DESCRIBE_SIZE = 512


def as_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) float images in [0, 1] -> (B, H, W, 3) uint8, rounded.

    >>> as_uint8(torch.tensor([0.0, 0.5, 1.2]).reshape(1, 3, 1, 1)).tolist()
    [[[[0, 128, 255]]]]
    """
    return (images.clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8)


@dataclass(frozen=True)
class Analysis:
    """A face found in a crop: its 128-D `descriptor` and (68, 2) `landmarks` in crop pixels."""

    descriptor: np.ndarray
    landmarks: np.ndarray


class FaceAnalyser:
    """Finds the face in each crop of a batch and measures it (dlib's detector, landmarks and descriptor)."""

    def __init__(self):
        self.backend, self.describer = load_backend("dlib"), FaceDescriber()

    def analyse(self, crop: np.ndarray) -> Analysis | None:
        """The analysis of an 8-bit (H, W, 3) crop, or None when no face is found."""
        scale = DESCRIBE_SIZE / crop.shape[0]
        big = cv2.resize(crop, (DESCRIBE_SIZE, DESCRIBE_SIZE), interpolation=cv2.INTER_CUBIC)
        boxes = self.backend.detect(big)
        if not boxes:
            return None
        points = jittered_landmarks(self.backend, big, boxes[0], 4)
        return Analysis(self.describer.describe(big, points), rescaled_points(points, 1 / scale))

    def __call__(self, crops: torch.Tensor, size: int | None = None) -> list[Analysis | None]:
        """One analysis per crop of (B, 3, H, W) float crops in [0, 1] (None: no face found), its landmarks in
        pixels of a `size` px crop (None: of these crops)."""
        scale = 1.0 if size is None else size / crops.shape[-1]
        return [analysis and Analysis(analysis.descriptor, rescaled_points(analysis.landmarks, scale))
                for analysis in map(self.analyse, as_uint8(crops))]
