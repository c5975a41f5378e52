"""One identity's face model: aligned crops in, that identity's faces out, as one module a compositing tool can run.

It is the swap's network cut down to what one identity uses (the shared
encoder, the shared decoder levels and that identity's decoder) and runs
`fusion.model.decode.decode_faces` for a batch of that identity alone: the
area resize to the encoder's input (after a decoder-only growth) and the
sigmoid are inside, so a tool feeds crops and gets faces, both in [0, 1].
"""

import functools

import torch
import torch.nn.functional as F
from torch import nn

from fusion.checks import check_shape
from fusion.swap.loader import SwapModel


def _check_size(crops: torch.Tensor, resolution: int) -> torch.Tensor:
    if crops.dim() != 4 or crops.size(1) != 3 or crops.size(2) != resolution or crops.size(3) != resolution:
        raise ValueError(f"crops must have shape (B, 3, {resolution}, {resolution}), got {crops.shape}")
    return crops


@functools.cache
def _traced_check():
    """The shape check a traced (TorchScript) model keeps: a trace records tensor operations only, and a call
    to a scripted function is one, so a crop of the wrong size fails there instead of decoding to a wrong-sized
    face. Scripted on first use: `torch.jit.script` warns that it is deprecated, which only an export should see."""
    return torch.jit.script(_check_size)


class FaceModel(nn.Module):
    """`forward(crops)`: (B, 3, R, R) aligned crops in [0, 1] -> (B, 3, R, R) faces of `identity` in [0, 1],
    R the model's output resolution; what `SwapModel.decode(crops, index of identity)` computes in fp32.

    >>> from fusion.data.cache import CropSettings
    >>> from fusion.model.fusion_net import FusionConfig, FusionNet
    >>> net = FusionNet.build(FusionConfig(identities=2, resolution=16, width_multiplier=1 / 32), ["decoder_only"])
    >>> model = SwapModel(net.eval(), ["astronaut", "hopper"], CropSettings(resolution=64))
    >>> face = FaceModel(model, "hopper")
    >>> face.extra_repr()
    'hopper, decoder 2 of 2 (astronaut, hopper), 32 px crops -> 32 px faces (encoder at 16 px)'
    >>> crops = torch.rand(3, 3, 32, 32)
    >>> bool((face(crops) - model.decode(crops, 1)).abs().max() < 1e-5)
    True
    """

    def __init__(self, model: SwapModel, identity: str):
        super().__init__()
        net = model.net
        self.identity, self.index, self.identities = identity, model.identity_index(identity), list(model.identities)
        self.resolution, self.input_resolution = net.output_resolution, net.input_resolution
        self.output_level, self.upsample = net.output_level, net.config.upsample
        self.from_rgb = net.from_rgb[str(net.input_level)]
        self.encoder = net.encoder
        self.shared = net.shared
        self.decoder = net.decoders[self.index]

    def extra_repr(self) -> str:
        """Whose face, and at which sizes, so that printing the module says what it is."""
        return (f"{self.identity}, decoder {self.index + 1} of {len(self.identities)} ({', '.join(self.identities)}), "
                f"{self.resolution} px crops -> {self.resolution} px faces (encoder at {self.input_resolution} px)")

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        """(B, 3, R, R) crops in [0, 1] -> (B, 3, R, R) faces in [0, 1]."""
        size = self.resolution
        if torch.jit.is_tracing():
            crops = _traced_check()(crops, size)
        else:
            check_shape(crops, f"B 3 {size} {size}", "crops")
        if self.input_resolution != size:
            crops = F.interpolate(crops, size=(self.input_resolution, self.input_resolution), mode="area")
        # FusionNet.encode, shared levels, then this identity's decoder; a loaded network is always fully
        # faded in (alpha 1), so neither end blends in an older level.
        h = self.from_rgb(crops)
        for level in reversed(self.encoder):
            h = level(h)
        for level in self.shared:
            h = level(h)
        return torch.sigmoid(self.decoder(h, self.output_level, 1.0, self.upsample))
