"""Loading a trained network for swapping, with errors that say what to do."""

from dataclasses import dataclass
from pathlib import Path

import torch

from fusion.data.cache import CacheSettings
from fusion.errors import CheckpointError, ConfigError
from fusion.model import FusionConfig, FusionNet
from fusion.model.checkpoint import network_weights, read_checkpoint
from fusion.model.faces import decode_faces

#: Network precisions a swap can run at. bf16 autocast on this project's CPU
#: (AMD EPYC, oneDNN avx512 kernels) decoded 2.2x faster than fp32 and moved
#: faces by 0.08 8-bit levels on average (at most 0.9): far below a decoder's
#: own error. fp32 stays the default, since CPUs and GPUs without native bf16
#: emulate it slowly.
PRECISIONS = ("fp32", "bf16")


def pick_device(device: str) -> torch.device:
    """`auto` is the first CUDA GPU if there is one, else the CPU; anything else is taken as a torch device name."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    picked = torch.device(device)
    if picked.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={device}, but this torch sees no CUDA GPU; use device=cpu or device=auto")
    return picked


@dataclass
class SwapModel:
    net: FusionNet
    identities: list[str]
    crop: CacheSettings
    precision: str = "fp32"

    def identity_index(self, name: str) -> int:
        if name not in self.identities:
            raise CheckpointError(f"identity {name!r} is not in this model; it has {', '.join(self.identities)}")
        return self.identities.index(name)

    @torch.no_grad()
    def decode(self, crops: torch.Tensor, identity: int) -> torch.Tensor:
        """(B, 3, R_out, R_out) aligned crops in [0, 1] -> faces of `identity` in [0, 1], float32 on the crops' device.

        Runs on the network's device, at `precision`.
        """
        device = next(self.net.parameters()).device
        identities = torch.full((crops.shape[0],), identity, dtype=torch.long, device=device)
        with torch.autocast(device.type, torch.bfloat16, enabled=self.precision == "bf16"):
            return decode_faces(self.net, crops.to(device), identities).to(crops.device)


def load_swap_model(path: str | Path, device: str = "cpu", precision: str = "fp32") -> SwapModel:
    """The network of a fusion training checkpoint, grown to its depth, in eval mode on `device` (or `auto`)."""
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    saved = read_checkpoint(path)
    info = saved["fusion"]
    if not info.get("crop"):
        raise CheckpointError(f"{path} does not record the crop layout it was trained on (written before it was "
                              "saved); train again or resume the run once to write a new checkpoint")
    net = FusionNet.build(FusionConfig(**info["net"]), info["growth"])
    net.load_state_dict(network_weights(saved["state_dict"]))
    return SwapModel(net.eval().to(pick_device(device)), list(info["identities"]), CacheSettings(**info["crop"]),
                     precision)
