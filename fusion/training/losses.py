"""The training loss: how the blended prediction differs from the blended target.

(1 - SSIM) judges structure, L1 keeps colours honest, and MS-SSIM (once the
image is large enough for its five scales) judges structure at several sizes.
All are measured inside the face mask, dilated by half an SSIM window so the
seam region counts too; outside it both images are the template anyway.
"""

from dataclasses import dataclass

import kornia
import torch.nn.functional as F
from torch import Tensor, nn

from fusion.metrics.reconstruction import masked_mean, masked_ssim

#: MS-SSIM downsamples four times with an 11-px window: it needs at least 11 * 2**4 px.
MS_SSIM_MIN_SIZE = 176


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms, from the module's `loss` option. MS-SSIM is 0 by default: kornia's is
    neither masked nor a true MS-SSIM (docs/design.md (Triplets, the training loss and the blend)).
    """

    ssim: float = 0.84
    l1: float = 0.16
    ms_ssim: float = 0.0


class FaceLoss(nn.Module):
    """Weighted masked (1 - SSIM) + L1 [+ (1 - MS-SSIM) where the size allows]."""

    def __init__(self, weights: LossWeights = LossWeights(), window: int = 11):
        super().__init__()
        self.weights = weights
        self.window = window
        self.ms_ssim = kornia.losses.MS_SSIMLoss(alpha=0.0, compensation=1.0) if weights.ms_ssim else None

    def forward(self, prediction: Tensor, target: Tensor, mask: Tensor) -> dict[str, Tensor]:
        """Each term by name, and their weighted sum as "loss", measured inside `mask` dilated by half the
        SSIM window so the seam region counts.
        """
        region = F.max_pool2d(mask, self.window, stride=1, padding=self.window // 2) if self.window > 1 else mask
        terms = {
            "ssim": 1 - masked_ssim(prediction, target, region, self.window).mean(),
            "l1": masked_mean((prediction - target).abs(), region).mean(),
        }
        if self.ms_ssim is not None and min(prediction.shape[-2:]) >= MS_SSIM_MIN_SIZE:
            terms["ms_ssim"] = self.ms_ssim(prediction.float(), target.float())
        terms["loss"] = sum(getattr(self.weights, name) * value for name, value in terms.items())
        return terms
