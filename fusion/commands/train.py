"""`fusion-train` (`python train.py` in a checkout): FusionNet trained through its curriculum."""

from typing import TYPE_CHECKING

from omegaconf import DictConfig

from fusion.commands.command import Command, launch

if TYPE_CHECKING:
    from fusion.training.run import TrainResult


def run(cfg: DictConfig, _: DictConfig) -> "TrainResult":
    """The training; Lightning and torch load here, so `--help` or a refused command line never waits for them."""
    from fusion.training.run import train
    return train(cfg)


#: The config is the options: its groups (cache, data, model, trainer, ...) are built where they are used.
TRAIN = Command("train", run=run, summary=lambda result, _: result.summary())


def main() -> None:
    """`fusion-train [overrides]`: train, then name the checkpoint and the swap to try."""
    launch(TRAIN)
