"""Checkpoints written atomically: a job killed mid-save keeps its previous `last.ckpt`.

Lightning's own writer opens the destination and writes into it, so a
preemption's SIGKILL during a save would leave a truncated `last.ckpt`, the
one file a requeued job resumes from.
"""

from pathlib import Path

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from fusion.io.atomic import atomic_path


class AtomicCheckpointIO(TorchCheckpointIO):
    """TorchCheckpointIO that saves to a temporary name beside the file and renames it into place."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as partial:
            torch.save(checkpoint, partial)
