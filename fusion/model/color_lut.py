"""Image-adaptive 3D LUT color harmonisation: the LUT op and the network that builds a LUT per frame.

After Zeng et al., "Learning Image-adaptive 3D Lookup Tables" (TPAMI 2020):
`basis` learned 3D LUTs of `size`^3 entries, and a small CNN that sees the
decoded face and the plate's surround (downsampled) and predicts the weights
that mix the basis into one LUT for this frame. The first basis LUT starts as
the identity and the others near zero, and the CNN's weights start at (1, 0,
..., 0), so an untrained network changes nothing. A LUT is applied by trilinear interpolation (`apply_lut`:
one `grid_sample`, batched, differentiable, on any device). `lut[b, c, i, j, k]`
is output channel c for the input color (r, g, b) = (k, j, i) / (size - 1).
"""

import torch
import torch.nn.functional as F
from torch import nn

from fusion.checks import check_shape
from fusion.model.section_configs import ColorConfig


def identity_lut(size: int, batch: int = 1) -> torch.Tensor:
    """(batch, 3, size, size, size) LUT that maps every color to itself.

    >>> lut = identity_lut(3)
    >>> lut[0, :, 2, 1, 0].tolist()  # input (r, g, b) = (0, 0.5, 1)
    [0.0, 0.5, 1.0]
    """
    ramp = torch.linspace(0, 1, size)
    b, g, r = torch.meshgrid(ramp, ramp, ramp, indexing="ij")
    return torch.stack([r, g, b])[None].repeat(batch, 1, 1, 1, 1)


def apply_lut(image: torch.Tensor, lut: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) colors in [0, 1] through (B, 3, S, S, S) LUTs, trilinear; values outside [0, 1] are clamped.

    >>> image = torch.rand(2, 3, 8, 8)
    >>> torch.allclose(apply_lut(image, identity_lut(17, 2)), image, atol=1e-6)
    True
    """
    sizes = check_shape(image, "B 3 H W", "image")
    check_shape(lut, "B 3 S S S", "lut", {"B": sizes["B"]})
    grid = image.clamp(0, 1).permute(0, 2, 3, 1)[:, :, :, None] * 2 - 1  # (B, H, W, 1, (r, g, b)) = (x, y, z)
    out = F.grid_sample(lut, grid.to(lut.dtype), mode="bilinear", padding_mode="border", align_corners=True)
    return out[..., 0]


class ApplyLut(nn.Module):
    """Module twin of `apply_lut`.

    >>> ApplyLut()(torch.zeros(1, 3, 2, 2), identity_lut(5)).abs().max().item()
    0.0
    """

    def forward(self, image: torch.Tensor, lut: torch.Tensor) -> torch.Tensor:
        return apply_lut(image, lut)


def lut_smoothness(lut: torch.Tensor) -> torch.Tensor:
    """Mean squared second difference along each color axis: the smoothness prior, which leaves a straight
    ramp such as the identity alone.

    >>> float(lut_smoothness(identity_lut(5))), float(lut_smoothness(identity_lut(5) ** 2)) > 0
    (0.0, True)
    """
    return sum(torch.diff(lut, n=2, dim=axis).square().mean() for axis in (2, 3, 4))


def lut_monotonicity(lut: torch.Tensor) -> torch.Tensor:
    """Mean of the decreases along each color axis: brighter in should never be darker out.

    >>> float(lut_monotonicity(identity_lut(5))), float(lut_monotonicity(identity_lut(5).flip(4))) > 0
    (0.0, True)
    """
    return sum(F.relu(-torch.diff(lut, dim=axis)).mean() for axis in (2, 3, 4))


class ColorNet(nn.Module):
    """Basis LUTs and the CNN weighting them: (face, surround, mask) -> one (B, 3, S, S, S) LUT per frame.

    The CNN's input is 7 channels at `resolution`: the decoded face inside its mask, the plate outside
    it, and the mask. It has no normalisation layers: the global color statistics they would remove
    are the signal.

    >>> net = ColorNet(ColorConfig(size=9, basis=3, resolution=32, width=8))
    >>> face, plate, mask = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64), torch.ones(2, 1, 64, 64)
    >>> tuple(net(face, plate, mask).shape)
    (2, 3, 9, 9, 9)
    >>> bool((net(face, plate, mask) - identity_lut(9, 2)).abs().max() < 0.05)  # untrained: near the identity
    True
    """

    def __init__(self, config: ColorConfig = ColorConfig()):
        super().__init__()
        self.config = config
        w = config.width
        layers, channels = [], 7
        for out in (w, 2 * w, 4 * w, 4 * w):
            layers += [nn.Conv2d(channels, out, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
            channels = out
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.weights = nn.Linear(channels, config.basis)
        noise = torch.randn(config.basis, 3, config.size, config.size, config.size,
                            generator=torch.Generator().manual_seed(0)) * 1e-3
        noise[0] = identity_lut(config.size)[0]
        self.basis = nn.Parameter(noise)
        with torch.no_grad():
            self.weights.weight.mul_(0.01)
            self.weights.bias.zero_()
            self.weights.bias[0] = 1.0

    def forward(self, face: torch.Tensor, plate: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        sizes = check_shape(face, "B 3 H W", "face")
        check_shape(plate, "B 3 H W", "plate", sizes)
        check_shape(mask, "B 1 H W", "mask", sizes)
        r = self.config.resolution
        x = torch.cat([face * mask, plate * (1 - mask), mask], 1)
        x = F.interpolate(x, size=(r, r), mode="area") if x.shape[-1] != r else x
        return torch.einsum("bk,kcijl->bcijl", self.weights(self.features(x)), self.basis)

    def extra_repr(self) -> str:
        c = self.config
        return f"basis={c.basis} x {c.size}^3, resolution={c.resolution}, width={c.width}"
