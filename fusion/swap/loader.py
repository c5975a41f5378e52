"""Loading a trained network for swapping, with errors that say what to do."""

from dataclasses import dataclass, field
from pathlib import Path

import torch

from fusion.data.cache import CropSettings
from fusion.errors import CheckpointError
from fusion.hardware import pick_device, resolve_precision
from fusion.model.fusion_net import FusionNet
from fusion.model.checkpoint import (COLOR_SECTION, MATTE_SECTION, load_color, load_matte, load_network,
                                     read_checkpoint)
from fusion.model.color_lut import ColorNet
from fusion.model.matte_net import MatteNet
from fusion.model.decode import decode_faces

@dataclass
class SwapModel:
    """A trained network ready to swap: the network (its weight average where saved), the identities
    in decoder order, the crop settings its crops were made with, and the precision to run at.
    Swap and evaluate both decode through it, so they see a checkpoint alike.
    """

    net: FusionNet
    identities: list[str]
    crop: CropSettings
    #: fp32 or bf16 (autocast), as resolved for the network's device
    precision: str = "fp32"
    #: the learned occlusion-aware face matte where the checkpoint holds one (matte.py), on the same device
    matte: MatteNet | None = None
    #: the color-harmonisation LUT network where the checkpoint holds one (color.py), on the same device
    color: ColorNet | None = None
    #: how the learned matte and the color network were trained (`matte`, `color`: their sections' plain
    #: `training` data), for a render's manifest
    trained: dict[str, dict] = field(default_factory=dict)

    def identity_index(self, name: str) -> int:
        """The decoder index of identity `name`; a CheckpointError listing the model's identities if it has no such one."""
        if name not in self.identities:
            raise CheckpointError(f"identity {name!r} is not in this model; it has {', '.join(self.identities)}")
        return self.identities.index(name)

    @property
    def device(self) -> torch.device:
        """Where the network runs."""
        return next(self.net.parameters()).device

    @torch.no_grad()
    def decode(self, crops: torch.Tensor, identity: int) -> torch.Tensor:
        """(B, 3, R_out, R_out) aligned crops in [0, 1] -> faces of `identity` in [0, 1], float32 on the crops' device.

        Runs on the network's device, at `precision`.
        """
        device = self.device
        identities = torch.full((crops.shape[0],), identity, dtype=torch.long, device=device)
        with torch.autocast(device.type, torch.bfloat16, enabled=self.precision == "bf16"):
            return decode_faces(self.net, crops.to(device), identities).to(crops.device)


def load_swap_model(path: str | Path, device: str = "cpu", precision: str = "fp32") -> SwapModel:
    """The network of a fusion training checkpoint, grown to its depth, in eval mode on `device` (or `auto`),
    to run at `precision` (fp32, bf16, or auto: bf16 where the device has it natively), with its learned
    matte and color LUT network where it has them."""
    picked = pick_device(device)
    precision = resolve_precision(precision, picked)
    saved = read_checkpoint(path)
    info = saved["fusion"]
    if not info.get("crop"):
        raise CheckpointError(f"{path} does not record the crop layout it was trained on (written before it was "
                              "saved); train again or resume the run once to write a new checkpoint")
    net, matte, color = load_network(saved), load_matte(saved, path), load_color(saved, path)
    on_device = lambda extra: extra.to(picked) if extra is not None else None  # noqa: E731
    trained = {name: saved[key].get("training", {}) for name, key in (("matte", MATTE_SECTION),
                                                                       ("color", COLOR_SECTION)) if key in saved}
    return SwapModel(net.eval().to(picked), list(info["identities"]), CropSettings(**info["crop"]), precision,
                     on_device(matte), on_device(color), trained)
