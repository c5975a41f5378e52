"""The occlusion-aware face matte: a small U-Net that marks the visible face in an aligned crop.

The hull of the 68 landmarks covers whatever is in front of the face, so a
hand over the mouth would be replaced by the decoded mouth. `MatteNet` sees
the plate's aligned crop and predicts, per pixel, the probability that the
hull's pixel is face and not an occluder; the swap composites only where it
says face (`fusion.swap.composite`). It runs at its own `resolution` (a matte
needs far fewer pixels than a face), and `predict` resizes to and from it.
GroupNorm rather than BatchNorm, so that a teacher that is the moving average
of the student (`fusion.occlusion`) has no running statistics to reconcile.
"""

import torch
import torch.nn.functional as F
from torch import nn

from fusion.checks import check_shape
from fusion.model.section_configs import MatteConfig


class ConvBlock(nn.Module):
    """Two 3x3 convs, each followed by GroupNorm (4 groups) and ReLU."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.GroupNorm(4, out_channels), nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1), nn.GroupNorm(4, out_channels), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def extra_repr(self) -> str:
        return f"{self.in_channels} -> {self.out_channels}"


class MatteNet(nn.Module):
    """U-Net: (B, 3, R, R) crop in [0, 1] -> (B, 1, R, R) logits of "visible face", and the last features.

    >>> net = MatteNet(MatteConfig(resolution=32, width=8, depth=2))
    >>> logits, features = net(torch.rand(2, 3, 32, 32))
    >>> tuple(logits.shape), tuple(features.shape)
    ((2, 1, 32, 32), (2, 8, 32, 32))
    >>> tuple(net.predict(torch.rand(1, 3, 100, 100)).shape)  # any crop size: resized to 32 px and back
    (1, 1, 100, 100)
    """

    def __init__(self, config: MatteConfig = MatteConfig()):
        super().__init__()
        self.config = config
        widths = [config.width * 2**level for level in range(config.depth + 1)]
        self.down = nn.ModuleList([ConvBlock(3, widths[0])] +
                                  [ConvBlock(widths[i], widths[i + 1]) for i in range(config.depth)])
        self.up = nn.ModuleList([ConvBlock(widths[i + 1] + widths[i], widths[i])
                                 for i in reversed(range(config.depth))])
        self.head = nn.Conv2d(widths[0], 1, 1)

    @property
    def feature_channels(self) -> int:
        """Channels of the features `forward` returns beside the logits (the prototype space)."""
        return self.config.width

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_shape(x, f"B 3 {self.config.resolution} {self.config.resolution}", "matte input")
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        skips.pop()
        for block in self.up:
            x = block(torch.cat([F.interpolate(x, scale_factor=2.0, mode="bilinear"), skips.pop()], 1))
        return self.head(x), x

    @torch.no_grad()
    def predict(self, crops: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) crops in [0, 1], any size -> (B, 1, H, W) probability of visible face, float32 on the
        crops' device (the network runs on its own)."""
        check_shape(crops, "B 3 H W", "crops")
        size = self.config.resolution
        x = crops.float().to(next(self.parameters()).device)
        small = F.interpolate(x, size=(size, size), mode="area") if x.shape[-2:] != (size, size) else x
        probability = torch.sigmoid(self(small)[0])
        if x.shape[-2:] != (size, size):
            probability = F.interpolate(probability, size=x.shape[-2:], mode="bilinear")
        return probability.to(crops.device)

    def extra_repr(self) -> str:
        return f"resolution={self.config.resolution}, width={self.config.width}, depth={self.config.depth}"
