"""Building blocks of FusionNet: one module per level, plus the RGB adapters.

Every block takes a ``torch.Generator`` and draws its weights from it alone:
the network grows during training, and a level added on several DDP ranks
must come out identical without any communication, whatever each rank's
global RNG did meanwhile. Layers are created with ``skip_init`` so that the
default initialisation does not consume the global RNG either.

There are no normalisation layers (as in the paper); He-initialised
convolutions with LeakyReLU(0.2) keep activations in range.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from fusion.errors import check_choice
from fusion.model.upsample_conv import UpsampleConv3x3

SLOPE = 0.2
"""Negative slope of every LeakyReLU."""

#: How an encoder level halves its input.
DOWNSAMPLES = ("avg", "max")

#: How a decoder level doubles its input.
UPSAMPLES = ("nearest", "bilinear")

_LRELU_GAIN = math.sqrt(2 / (1 + SLOPE**2))


def _layer(cls: type[nn.Module], *args, fan_in: int, gain: float, generator: torch.Generator, **kwargs):
    """A conv layer with N(0, gain / sqrt(fan_in)) weights from ``generator`` and zero bias.

    Built on the meta device and given its tensors here, so no default init is drawn and thrown away
    (`nn.utils.skip_init` did this too, but its `to_empty` imports sympy, a cost to every swap's start)."""
    layer = cls(*args, device="meta", **kwargs)
    weight = torch.empty(layer.weight.shape).normal_(0.0, gain / math.sqrt(fan_in), generator=generator)
    layer.weight, layer.bias = nn.Parameter(weight), nn.Parameter(torch.zeros(layer.bias.shape))
    return layer


def conv(
    in_channels: int,
    out_channels: int,
    kernel: int,
    generator: torch.Generator,
    *,
    padding: int | None = None,
    linear: bool = False,
) -> nn.Conv2d:
    """A stride-1 conv, "same" padded unless ``padding`` is given.

    He init for a following LeakyReLU, or for no activation if ``linear``.
    """
    return _layer(
        nn.Conv2d, in_channels, out_channels, kernel,
        padding=kernel // 2 if padding is None else padding,
        fan_in=in_channels * kernel * kernel, gain=1.0 if linear else _LRELU_GAIN, generator=generator,
    )


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    # In place: the conv that produced x does not keep its output for backward,
    # and LeakyReLU's backward can use its own output, so this saves a copy.
    return F.leaky_relu_(x, SLOPE)


def _whole_map_conv(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """A valid conv whose kernel covers all of `x` (B, C, k, k) -> (B, out, 1, 1), as the matrix product it is:
    one GEMM instead of a tiny convolution, which oneDNN runs far below its speed (docs/design.md)."""
    flat = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
    weight = conv.weight.permute(0, 2, 3, 1).reshape(conv.out_channels, -1)
    return F.linear(flat, weight, conv.bias)[..., None, None]


def _point_deconv(latent: torch.Tensor, deconv: nn.ConvTranspose2d) -> torch.Tensor:
    """A transposed conv of a 1x1 map (B, C, 1, 1) -> (B, out, k, k), as the matrix product it is; channels_last."""
    k, out_channels = deconv.kernel_size[0], deconv.out_channels
    weight = deconv.weight.permute(0, 2, 3, 1).reshape(deconv.in_channels, -1)
    spread = (latent.flatten(1) @ weight).view(-1, k, k, out_channels) + deconv.bias
    return spread.permute(0, 3, 1, 2)


class FromRGB(nn.Module):
    """1x1 conv from an image to the features of the encoder's input level."""

    def __init__(self, channels: int, generator: torch.Generator):
        super().__init__()
        self.channels = channels
        self.conv = conv(3, channels, 1, generator)

    def extra_repr(self) -> str:
        """Channels in and out, so that `print(net)` reads as the architecture."""
        return f"3 -> {self.channels} channels"

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) image -> (B, channels, H, W) features."""
        return _lrelu(self.conv(image))


class ToRGB(nn.Module):
    """1x1 conv from the output level's features to an image (linear: colors are unbounded)."""

    def __init__(self, channels: int, generator: torch.Generator):
        super().__init__()
        self.channels = channels
        self.conv = conv(channels, 3, 1, generator, linear=True)

    def extra_repr(self) -> str:
        """Channels in and out, so that `print(net)` reads as the architecture."""
        return f"{self.channels} -> 3 channels"

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, channels, H, W) features -> (B, 3, H, W) linear image (`decode_faces` bounds it with a sigmoid)."""
        return self.conv(features)


class EncoderLevel(nn.Module):
    """Level k >= 1 of the encoder: two 3x3 convs, then halve the resolution.

    ``in_channels`` is level k's width, ``out_channels`` level k-1's.

    >>> level = EncoderLevel(8, 16, "avg", torch.Generator().manual_seed(0))
    >>> level(torch.zeros(2, 8, 32, 32)).shape
    torch.Size([2, 16, 16, 16])
    """

    def __init__(self, in_channels: int, out_channels: int, downsample: str, generator: torch.Generator,
                 resolution: int | None = None):
        super().__init__()
        check_choice("downsample", downsample, DOWNSAMPLES)
        self.in_channels, self.out_channels, self.downsample, self.resolution = (
            in_channels, out_channels, downsample, resolution)
        self.conv1 = conv(in_channels, in_channels, 3, generator)
        self.conv2 = conv(in_channels, out_channels, 3, generator)
        self.pool = F.avg_pool2d if downsample == "avg" else F.max_pool2d

    def extra_repr(self) -> str:
        """Resolution, channels and pooling, so that `print(net)` reads as the architecture."""
        size = f"{self.resolution} -> {self.resolution // 2} px, " if self.resolution else ""
        return f"{size}{self.in_channels} -> {self.out_channels} channels, {self.downsample} pool"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, R, R) -> (B, out_channels, R / 2, R / 2)."""
        return self.pool(_lrelu(self.conv2(_lrelu(self.conv1(x)))), 2)


class EncoderBottom(nn.Module):
    """Level 0 of the encoder: a 3x3 conv, then a 4x4 valid conv to a 1x1 latent.

    The latent is left linear: it is a code for the decoders, not a feature map.

    >>> bottom = EncoderBottom(16, 32, torch.Generator().manual_seed(0))
    >>> bottom(torch.zeros(2, 16, 4, 4)).shape
    torch.Size([2, 32, 1, 1])
    """

    def __init__(self, channels: int, latent_channels: int, generator: torch.Generator):
        super().__init__()
        self.channels, self.latent_channels = channels, latent_channels
        self.conv = conv(channels, channels, 3, generator)
        self.to_latent = conv(channels, latent_channels, 4, generator, padding=0, linear=True)

    def extra_repr(self) -> str:
        """Size and channels, so that `print(net)` reads as the architecture."""
        return f"4 -> 1 px, {self.channels} -> {self.latent_channels} latent channels"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, channels, 4, 4) features -> (B, latent_channels, 1, 1) linear latent."""
        return _whole_map_conv(_lrelu(self.conv(x)), self.to_latent)


class DecoderBottom(nn.Module):
    """Level 0 of a decoder: a 4x4 transposed conv from the 1x1 latent, then a 3x3 conv.

    >>> bottom = DecoderBottom(32, 16, torch.Generator().manual_seed(0))
    >>> bottom(torch.zeros(2, 32, 1, 1)).shape
    torch.Size([2, 16, 4, 4])
    """

    def __init__(self, latent_channels: int, channels: int, generator: torch.Generator):
        super().__init__()
        self.latent_channels, self.channels = latent_channels, channels
        # From a 1x1 input each output pixel sees latent_channels weights: that is the fan-in.
        self.from_latent = _layer(
            nn.ConvTranspose2d, latent_channels, channels, 4,
            fan_in=latent_channels, gain=_LRELU_GAIN, generator=generator,
        )
        self.conv = conv(channels, channels, 3, generator)

    def extra_repr(self) -> str:
        """Size and channels, so that `print(net)` reads as the architecture."""
        return f"1 -> 4 px, {self.latent_channels} latent -> {self.channels} channels"

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        """(B, latent_channels, 1, 1) latent -> (B, channels, 4, 4) features."""
        return _lrelu(self.conv(_lrelu(_point_deconv(latent, self.from_latent))))


class DecoderLevel(nn.Module):
    """Level k >= 1 of a decoder: double the resolution, then two 3x3 convs.

    ``in_channels`` is level k-1's width, ``out_channels`` level k's.

    >>> level = DecoderLevel(16, 8, "nearest", torch.Generator().manual_seed(0))
    >>> level(torch.zeros(2, 16, 8, 8)).shape
    torch.Size([2, 8, 16, 16])
    """

    def __init__(self, in_channels: int, out_channels: int, upsample: str, generator: torch.Generator,
                 resolution: int | None = None):
        super().__init__()
        self.upsample = upsample_mode(upsample)
        self.in_channels, self.out_channels, self.resolution = in_channels, out_channels, resolution
        if self.upsample == "nearest":  # the same function with fewer multiply-adds: see upsample_conv
            self.conv1 = _layer(UpsampleConv3x3, in_channels, out_channels, fan_in=in_channels * 9, gain=_LRELU_GAIN,
                                generator=generator)
        else:
            self.conv1 = conv(in_channels, out_channels, 3, generator)
        self.conv2 = conv(out_channels, out_channels, 3, generator)

    def extra_repr(self) -> str:
        """Resolution, channels and upsampling, so that `print(net)` reads as the architecture."""
        size = f"{self.resolution // 2} -> {self.resolution} px, " if self.resolution else ""
        return f"{size}{self.in_channels} -> {self.out_channels} channels, {self.upsample} upsampling"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, R / 2, R / 2) -> (B, out_channels, R, R)."""
        if self.upsample != "nearest":
            x = upsample2x(x, self.upsample)
        return _lrelu(self.conv2(_lrelu(self.conv1(x))))


def upsample_mode(mode: str) -> str:
    """Validate an upsampling mode name."""
    check_choice("upsample", mode, UPSAMPLES)
    return mode


def upsample2x(x: torch.Tensor, mode: str) -> torch.Tensor:
    """Double height and width; bilinear without corner alignment, so pixels stay centred."""
    if mode == "nearest":
        return F.interpolate(x, scale_factor=2, mode="nearest")
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
