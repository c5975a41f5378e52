"""Color harmonisation of a decoded face with its plate: `color=none|stats|lut`.

- `stats`: classic color-statistics transfer (`fusion.blend.color_transfer`):
  the face's Lab mean and standard deviation set to those of the plate's face
  region. Simple, but it also carries over the plate actor's skin tone.
- `lut`: the checkpoint's image-adaptive 3D LUT (`fusion.model.color_lut`,
  trained by `color.py`): a LUT built for this frame from the decoded face and
  the plate's surround, so it follows the plate's grade, not its actor.
Both work on batches of crops (crop space) before the face is warped back;
the composite then uses the matte as usual. `check_color` (`fusion.swap.options`) refuses an
unknown name when the options are made; `color_step` is the one place that turns the
name into the step that runs (none for `none`).
"""

from typing import Callable

import torch

from fusion.blend.color_transfer import transfer_stats
from fusion.errors import ConfigError
from fusion.model.color_lut import ColorNet, apply_lut

#: Decoded faces (B, 3, H, W) in [0, 1], their plates' crops and face masks (B, 1, H, W) in [0, 1] -> the
#: faces harmonised, on the faces' device.
ColorStep = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


class LutStep:
    """The `lut` step: each face through the LUT that `net` builds for it from the face and its plate's crop."""

    def __init__(self, net: ColorNet):
        self.net = net

    @torch.no_grad()
    def __call__(self, face: torch.Tensor, plate: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        device = next(self.net.parameters()).device
        lut = self.net(face.to(device), plate.to(device), mask.to(device))
        return apply_lut(face.to(device), lut).to(face.device)


def color_step(color: str, net: ColorNet | None, checkpoint=None) -> ColorStep | None:
    """The step `color` (already checked by `check_color`) runs on decoded faces: None for `none`, the
    statistics transfer for `stats`, the checkpoint's LUT network `net` for `lut`; a ConfigError naming the
    fix for `lut` where the checkpoint holds no color network (`net` None).

    >>> color_step("none", None) is None, color_step("stats", None) is transfer_stats
    (True, True)
    """
    if color == "none":
        return None
    if color == "stats":
        return transfer_stats
    if net is None:
        raise ConfigError(f"color=lut: {checkpoint} holds no color LUT; train one with python color.py "
                          f"checkpoint={checkpoint} and pass the checkpoint it writes (<name>.color.ckpt)")
    return LutStep(net)
