"""What a swapper gives `evaluate` back for a batch: the composited faces as they are scored and shown, with their
sharpness and color against the plate measured where the swap is judged (crop space, or the face box in the plate)."""

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Swapped:
    """A batch's swaps: `views` (B, 3, V, V) in [0, 1], the composited faces as analysed, compared frame to frame
    and shown on the contact sheet; per frame, `sharpness`, the swap's over the plate's (`sharpness_ratio`), and
    `color_error`, CIEDE2000 between their mean colors (`mean_color_error`)."""

    views: torch.Tensor
    sharpness: list[float]
    color_error: list[float]

    def __post_init__(self):
        if not len(self.views) == len(self.sharpness) == len(self.color_error):
            raise ValueError(f"{len(self.views)} swapped views with {len(self.sharpness)} sharpness ratios and "
                             f"{len(self.color_error)} color errors")
