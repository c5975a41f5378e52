"""A small landmark regressor: an aligned face crop in, its 68 landmarks out, as fractions of the crop's width.

Trained on the cache's own crops and landmarks (every crop has them;
`fusion.training.landmark_fit`) and then frozen, it lets training read a
decoded face's pose, mouth and eyes differentiably (`fusion.training.expression_loss`),
which dlib, the evaluation's reader, cannot. It sees every crop at its own
`resolution`: landmarks need far fewer pixels than a face.
"""

import torch
import torch.nn.functional as F
from torch import nn

from fusion.checks import check_shape


class DownBlock(nn.Module):
    """A strided 3x3 conv, then a 3x3 conv at half the size, each followed by GroupNorm (4 groups) and LeakyReLU."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1), nn.GroupNorm(4, out_channels),
            nn.LeakyReLU(0.2),
            nn.Conv2d(out_channels, out_channels, 3, padding=1), nn.GroupNorm(4, out_channels), nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def extra_repr(self) -> str:
        return f"{self.in_channels} -> {self.out_channels}, half size"


class LandmarkNet(nn.Module):
    """(B, 3, H, W) crops in [0, 1] -> (B, 68, 2) landmarks as fractions of the crop's width and height.

    >>> net = LandmarkNet(resolution=32, width=8)
    >>> tuple(net(torch.rand(2, 3, 100, 100)).shape)  # any crop size: resized to 32 px
    (2, 68, 2)
    """

    def __init__(self, resolution: int = 64, width: int = 16):
        super().__init__()
        if resolution % 16:
            raise ValueError(f"resolution must be a multiple of 16 (four halvings), got {resolution}")
        self.resolution, self.width = resolution, width
        widths = [3] + [width * 2**level for level in range(4)]
        self.features = nn.Sequential(*(DownBlock(a, b) for a, b in zip(widths, widths[1:])))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(widths[-1] * (resolution // 16) ** 2, 256), nn.LeakyReLU(0.2),
                                  nn.Linear(256, 68 * 2))

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        check_shape(crops, "B 3 H W", "crops")
        if crops.shape[-1] != self.resolution or crops.shape[-2] != self.resolution:
            crops = F.interpolate(crops, size=(self.resolution, self.resolution), mode="bilinear", antialias=True,
                                  align_corners=False)
        return 0.5 + self.head(self.features(crops * 2 - 1)).view(-1, 68, 2)

    def extra_repr(self) -> str:
        return f"resolution={self.resolution}, width={self.width}"
