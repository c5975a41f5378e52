"""Colour harmonisation of a decoded face with its plate: `color=none|stats|lut`.

- `stats`: classic colour-statistics transfer (`fusion.blend.colour_transfer`):
  the face's Lab mean and standard deviation set to those of the plate's face
  region. Simple, but it also carries over the plate actor's skin tone.
- `lut`: the checkpoint's image-adaptive 3D LUT (`fusion.model.color_lut`,
  trained by `color.py`): a LUT built for this frame from the decoded face and
  the plate's surround, so it follows the plate's grade, not its actor.
Both work on batches of crops (crop space) before the face is warped back;
the composite then uses the matte as usual.
"""

import torch

from fusion.blend.colour_transfer import transfer_stats
from fusion.errors import ConfigError
from fusion.model.color_lut import ColorNet, apply_lut

COLORS = ("none", "stats", "lut")


def check_color(color: str, has_lut: bool | None = None, checkpoint=None) -> None:
    """Raise a ConfigError for an unknown `color`, or for `lut` where the checkpoint holds no colour network
    (`has_lut` False; None: not known yet)."""
    if color not in COLORS:
        raise ConfigError(f"unknown color {color!r}; choose one of {', '.join(COLORS)}")
    if color == "lut" and has_lut is False:
        raise ConfigError(f"color=lut: {checkpoint} holds no colour LUT; train one with python color.py "
                          f"checkpoint={checkpoint} and pass the checkpoint it writes (<name>.color.ckpt)")


@torch.no_grad()
def harmonise(face: torch.Tensor, plate: torch.Tensor, mask: torch.Tensor, color: str,
              net: ColorNet | None = None) -> torch.Tensor:
    """Decoded faces (B, 3, H, W) in [0, 1] harmonised with their plates' crops by `color`, on the faces' device."""
    check_color(color, None if color != "lut" else net is not None)
    if color == "none":
        return face
    if color == "stats":
        return transfer_stats(face, plate, mask)
    device = next(net.parameters()).device
    lut = net(face.to(device), plate.to(device), mask.to(device))
    return apply_lut(face.to(device), lut).to(face.device)
