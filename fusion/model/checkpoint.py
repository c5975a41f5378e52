"""The checkpoint format: what fusion writes beside Lightning's state, and reading it without running anything.

A model file travels between artists and facilities, and a pickle can call
any Python function while it loads. Every checkpoint fusion reads (swap,
evaluate, resume, Lightning's restore) goes through `torch.load` with
`weights_only=True`, which admits tensors and plain containers only; fusion
writes nothing else (the `fusion` section is ints, strings, bools, lists
and dicts). A file carrying anything more is refused before any of it runs.

Beside Lightning's keys, a checkpoint holds `state_dict` (`net.*` weights,
`net_ema.*` their moving average where training kept one) and a `fusion`
section: `growth` (replayed by `FusionNet.build`), `phase` (the curriculum
phase it ends or interrupts), `identities` (decoder order), `net` (the
FusionConfig) and `crop` (the CacheSettings its crops were made with). A checkpoint
made by `matte.py` also holds a learned face matte (`MATTE_SECTION`), one made by `color.py` a
colour LUT network (`COLOR_SECTION`).
"""

import pickle
import re
from dataclasses import asdict
from pathlib import Path

import torch

from fusion.errors import CheckpointError
from fusion.io.atomic import atomic_path
from fusion.model.fusion_net import FusionConfig, FusionNet
from fusion.model.color_lut import ColorConfig, ColorNet
from fusion.model.matte_net import MatteConfig, MatteNet

#: Keys of the `fusion` section every loader relies on.
REQUIRED = ("growth", "phase", "identities", "net")


def _refusal(path: Path, error: Exception) -> str:
    found = re.search(r"GLOBAL ([\w.]+)", str(error))
    what = f"a Python object ({found.group(1)})" if found else "Python objects beyond tensors and plain data"
    return (f"{path} holds {what} that loading would run; refused, and nothing in it was run. Use a checkpoint "
            "written by fusion's train.py, and ask whoever sent this one how it was made")


def read_checkpoint(path: str | Path) -> dict:
    """The checkpoint at `path` as a dict with `state_dict` and a `fusion` section.

    Raises CheckpointError naming the file when it is missing, unreadable,
    unsafe (would execute code) or not written by fusion.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; pass one from <run>/checkpoints/")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(_refusal(path, error)) from None
    except Exception as error:
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint ({type(error).__name__}: "
                              f"{str(error).splitlines()[0] if str(error) else 'no detail'}); "
                              "it may be truncated: copy it again or use another one") from None
    info = saved.get("fusion") if isinstance(saved, dict) else None
    if not isinstance(info, dict) or "state_dict" not in saved or any(key not in info for key in REQUIRED):
        raise CheckpointError(f"{path} was not written by fusion's train.py (no 'fusion' section); pass a checkpoint "
                              "from <run>/checkpoints/")
    return migrate(saved)


def migrate(saved: dict) -> dict:
    """Bring an older checkpoint's `fusion` section to the current format, in place: `growth` was one
    decoder_only flag per growth before it named the kind.

    >>> migrate({"fusion": {"growth": [False, True]}})["fusion"]["growth"]
    ['full', 'decoder_only']
    """
    info = saved["fusion"]
    info["growth"] = [("decoder_only" if kind else "full") if isinstance(kind, bool) else kind
                      for kind in info["growth"]]
    return saved


def network_weights(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """FusionNet's weights from a training state dict: the moving average where training kept one."""
    prefix = "net_ema." if any(k.startswith("net_ema.") for k in state_dict) else "net."
    return {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}


def fusion_section(net: FusionNet, identities: list[str], phase: int | None, crop: dict) -> dict:
    """The `fusion` section for `net` trained on `identities` with crops made by `crop` (CacheSettings as a dict)."""
    return {"growth": list(net.growth), "phase": phase, "identities": list(identities), "net": asdict(net.config),
            "crop": dict(crop)}


def load_network(saved: dict) -> FusionNet:
    """The network a read checkpoint holds, grown to its depth, with its (averaged) weights."""
    info = saved["fusion"]
    net = FusionNet.build(FusionConfig(**info["net"]), info["growth"])
    net.load_state_dict(network_weights(saved["state_dict"]))
    return net


def save_untrained(path: str | Path, identities: list[str], net: dict, crop: dict) -> Path:
    """Write an untrained network in train.py's format: what a swap or an evaluation costs before
    training (benchmarks, plumbing tests). `net` holds FusionConfig's arguments but `identities`."""
    network = FusionNet(FusionConfig(identities=len(identities), **net))
    state = {f"net.{k}": v for k, v in network.state_dict().items()}
    torch.save({"state_dict": state, "fusion": fusion_section(network, identities, None, crop)}, path)
    return Path(path)


#: The key of a learned face matte in a checkpoint (`fusion.occlusion`): {"config": MatteConfig as a dict,
#: "state_dict": its weights, "training": plain data on how it was trained and scored}.
MATTE_SECTION = "fusion_matte"
#: The key of a colour-harmonisation LUT network (`fusion.colour`), laid out as the matte's.
COLOR_SECTION = "fusion_color"


def _load_section(saved: dict, path: str | Path, key: str, build, command: str):
    section = saved.get(key)
    if section is None:
        return None
    try:
        net = build(section["config"])
        net.load_state_dict(section["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{path}: its {key} section does not load ({type(error).__name__}); train it again "
                              f"with python {command}") from None
    return net.eval()


def save_with_section(saved: dict, key: str, net, training: dict, out: str | Path) -> Path:
    """Write the read checkpoint `saved` with `net` (config, weights on the CPU, and the plain `training` data)
    under `key` to `out`, atomically: the model file `_load_section` reads back."""
    saved[key] = {"config": asdict(net.config),
                  "state_dict": {name: value.detach().cpu() for name, value in net.state_dict().items()},
                  "training": training}
    with atomic_path(out) as tmp:
        torch.save(saved, tmp)
    return Path(out)


def load_matte(saved: dict, path: str | Path) -> MatteNet | None:
    """The learned face matte a read checkpoint holds (in eval mode), or None where it holds none."""
    return _load_section(saved, path, MATTE_SECTION, lambda config: MatteNet(MatteConfig(**config)), "matte.py")


def load_color(saved: dict, path: str | Path) -> ColorNet | None:
    """The colour LUT network a read checkpoint holds (in eval mode), or None where it holds none."""
    return _load_section(saved, path, COLOR_SECTION, lambda config: ColorNet(ColorConfig(**config)), "color.py")
