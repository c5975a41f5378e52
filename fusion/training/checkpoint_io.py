"""Checkpoints written atomically, and read back as fusion reads every checkpoint (`read_checkpoint`).

Lightning's own writer opens the destination and writes into it, so a
preemption's SIGKILL during a save would leave a truncated `last.ckpt`, the
one file a requeued job resumes from. Its reader loads with whatever
`weights_only` it is given; this one refuses a file of another kind and
loads weights only, whatever it is given.
"""

from pathlib import Path

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from fusion.io.atomic import atomic_path
from fusion.model.checkpoint import read_checkpoint


class AtomicCheckpointIO(TorchCheckpointIO):
    """TorchCheckpointIO that saves to a temporary name beside the file and renames it into place, and loads
    through `read_checkpoint`."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as partial:
            torch.save(checkpoint, partial)

    def load_checkpoint(self, path, map_location=lambda storage, location: storage, weights_only=None) -> dict:
        return read_checkpoint(path, map_location)
