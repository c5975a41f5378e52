"""A shot-tuned encoder on disk: written by `fusion.tune`, applied by the swap.

The file holds the tuned encoder weights (`state_dict`, tensors only) and a
`fusion_shot_tuning` section of plain data: the checkpoint's name and SHA-256,
the plate actor, the shot, the options and the held-out scores. It is read
with `weights_only=True`, like a checkpoint, and applied only to the
checkpoint it was tuned from.
"""

import logging
from pathlib import Path

import torch

from fusion.errors import CheckpointError
from fusion.io.atomic import atomic_path
from fusion.io.digest import file_sha256
from fusion.io.footage import Source
from fusion.io.plate import FramePattern
from fusion.swap.loader import SwapModel

log = logging.getLogger(__name__)

#: The key of the file's metadata (plain data; the weights are under `state_dict`).
SECTION = "fusion_shot_tuning"


def tuning_path(checkpoint: str | Path, shot: str | Path) -> Path:
    """Where the tuning of `checkpoint` on `shot` goes by default: beside the checkpoint, named after both.

    >>> tuning_path("run/checkpoints/last.ckpt", "plates/sc12_tk3.mov").as_posix()
    'run/checkpoints/last.tuned-sc12_tk3.pt'
    >>> tuning_path("run/checkpoints/last.ckpt", "plates/sc12_tk3.####.exr").name
    'last.tuned-sc12_tk3.pt'
    """
    pattern = FramePattern.parse(shot)
    name = pattern.stem if pattern else Path(shot).stem
    return Path(checkpoint).with_name(f"{Path(checkpoint).stem}.tuned-{name}.pt")


def save_tuned_encoder(path: str | Path, section: dict, state: dict[str, torch.Tensor]) -> Path:
    """Write the tuned weights and their section to `path` atomically (a failed write leaves no file)."""
    with atomic_path(path) as tmp:
        torch.save({SECTION: section, "state_dict": state}, tmp)
    return Path(path)


def apply_tuned_encoder(model: SwapModel, tuning: str | Path, checkpoint: str | Path) -> dict:
    """Load a tuning file's encoder weights into `model` (read from `checkpoint`); returns its section.

    Refused, naming both files, when it was tuned from another checkpoint, and
    when it holds anything but tensors and plain data (nothing in it is run).
    """
    tuning = Path(tuning)
    if not tuning.is_file():
        raise CheckpointError(f"tuning={tuning} does not exist; make one with python tune.py")
    try:
        saved = torch.load(tuning, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(f"{tuning} is not a readable shot tuning ({type(error).__name__}); nothing in it was "
                              "run. Make it again with python tune.py") from None
    section = saved.get(SECTION) if isinstance(saved, dict) else None
    if not isinstance(section, dict) or not isinstance(saved.get("state_dict"), dict):
        raise CheckpointError(f"{tuning} was not written by tune.py (no '{SECTION}' section)")
    if section.get("checkpoint_sha256") != file_sha256(checkpoint):
        raise CheckpointError(f"{tuning} was tuned from {section.get('checkpoint')}, not from {checkpoint}; pass "
                              "that checkpoint, or tune this one with python tune.py")
    own = dict(model.net.named_parameters())
    with torch.no_grad():
        for name, value in saved["state_dict"].items():
            if name not in own or own[name].shape != value.shape:
                raise CheckpointError(f"{tuning}: {name} does not fit this network; tune it again")
            own[name].copy_(value.to(own[name].device))
    return section


def other_shot(section: dict, source: Source) -> str | None:
    """What to tell the user when a tuning (its `section`) was made on another shot than `source`, the
    plate being swapped; None when it is the same shot. A tuning may fairly serve a sister shot under the
    same light, so this is a warning to log, not a refusal. Tunings from before shots were digested are
    compared by path."""
    tuned, plate, digest = section.get("shot"), source.path, section.get("shot_sha256")
    same_path = tuned is not None and Path(tuned).resolve() == plate.resolve()
    same_shot = tuned is None or same_path if digest is None else digest == source.content_sha256()
    if same_shot:
        return None
    what = "a plate with the same name but other frames (re-delivered?)" if same_path else "another shot"
    return (f"the tuning was made on the shot {tuned}, and this plate {plate} is {what}; it is applied all the "
            "same (tune.py on this plate fits it better)")


def load_tuning(model: SwapModel, tuning: str | Path | None, checkpoint: str | Path, source: Source) -> list[str]:
    """The swap's tuning step: `tuning`'s encoder loaded into `model` where one is given
    (`apply_tuned_encoder`); returns the warning for a tuning made on another shot than `source` (also
    logged), else nothing."""
    if not tuning:
        return []
    mismatch = other_shot(apply_tuned_encoder(model, tuning, checkpoint), source)
    if not mismatch:
        return []
    log.warning("tuning=%s: %s", tuning, mismatch)
    return [f"tuning={tuning}: {mismatch}"]
