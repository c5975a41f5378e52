"""From aligned crops to decoded faces: the one way training and swapping call the network.

The crops come at the output resolution; the network may take a smaller
input (decoder-only growth), so they are area-resized to it. The sigmoid
bounds faces to [0, 1]: SSIM is blind to sign (SSIM(x, -x) is about 1), and
with a linear output training settled on negated faces (docs/design.md
(Network), numbers in (Measurements)).
"""

import torch
import torch.nn.functional as F

from fusion.model.fusion_net import FusionNet


def decode_faces(net: FusionNet, crops: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
    """(B, 3, R_out, R_out) crops in [0, 1] and identity indices (B,) -> decoded faces in [0, 1].

    >>> from fusion.model.fusion_net import FusionConfig
    >>> net = FusionNet(FusionConfig(identities=2, resolution=16, width_multiplier=1 / 32))
    >>> faces = decode_faces(net, torch.rand(2, 3, 16, 16), torch.tensor([0, 1]))
    >>> faces.shape, bool(faces.min() >= 0 and faces.max() <= 1)
    (torch.Size([2, 3, 16, 16]), True)
    """
    size = net.input_resolution
    inputs = crops if crops.shape[-1] == size else F.interpolate(crops, size=(size, size), mode="area")
    return torch.sigmoid(net(inputs.contiguous(memory_format=torch.channels_last), identity).float())
