"""The training loss: how the blended prediction differs from the blended target.

(1 - SSIM) judges structure, L1 keeps colors honest, and MS-SSIM (from
`MS_SSIM_MIN_SIZE`, where four of its scales fit the window) judges structure
at several sizes. All are measured inside the face mask, dilated by half an
SSIM window so the seam region counts too; outside it both images are the
template anyway. Pixels of the eyes, brows and mouth can weigh more (`eyes`,
`brows`, `mouth`: each pixel's weight is 1 + the sum of these times the
crop's feature maps), so the loss does not treat a pixel of cheek like one of
an eyelid or a lip.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fusion.metrics.ms_ssim import masked_ms_ssim
from fusion.metrics.reconstruction import masked_mean, masked_ssim

#: The MS-SSIM term starts where four scales of the 11-px window fit (five from 176 px).
MS_SSIM_MIN_SIZE = 128


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms, from the module's `loss` option. MS-SSIM (masked, `fusion.metrics.ms_ssim`)
    is 0 by default until its effect is measured (docs/design.md (Triplets, the training loss and the blend)).
    """

    ssim: float = 0.84
    l1: float = 0.16
    ms_ssim: float = 0.0
    #: extra weight of a pixel inside each feature map (0: weighted like the rest of the face)
    eyes: float = 0.0
    brows: float = 0.0
    mouth: float = 0.0

    @property
    def features(self) -> tuple[float, float, float]:
        """The feature weights in the order of `fusion.faces.features.FEATURES`."""
        return self.eyes, self.brows, self.mouth


class FaceLoss(nn.Module):
    """Weighted masked (1 - SSIM) + L1 [+ masked (1 - MS-SSIM) from `MS_SSIM_MIN_SIZE`]."""

    def __init__(self, weights: LossWeights = LossWeights(), window: int = 11):
        super().__init__()
        self.weights = weights
        self.window = window

    def forward(self, prediction: Tensor, target: Tensor, mask: Tensor, features: Tensor | None = None
                ) -> dict[str, Tensor]:
        """Each term by name, and their weighted sum as "loss", measured inside `mask` dilated by half the
        SSIM window so the seam region counts, each pixel weighted by the `features` maps (B, 3, H, W) where
        the feature weights are set.
        """
        region = F.max_pool2d(mask, self.window, stride=1, padding=self.window // 2) if self.window > 1 else mask
        if features is not None and any(self.weights.features):
            gains = torch.tensor(self.weights.features, device=features.device, dtype=features.dtype)
            region = region * (1 + (features * gains[:, None, None]).sum(1, keepdim=True))
        terms = {
            "ssim": 1 - masked_ssim(prediction, target, region, self.window).mean(),
            "l1": masked_mean((prediction - target).abs(), region).mean(),
        }
        if self.weights.ms_ssim and min(prediction.shape[-2:]) >= MS_SSIM_MIN_SIZE:
            terms["ms_ssim"] = 1 - masked_ms_ssim(prediction, target, region, self.window).mean()
        terms["loss"] = sum(getattr(self.weights, name) * value for name, value in terms.items())
        return terms
