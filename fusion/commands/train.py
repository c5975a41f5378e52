"""`fusion-train` (`python train.py` in a checkout): FusionNet trained through its curriculum."""

from fusion.commands.command import Command, launch
from fusion.training.run import train

#: The config is the options: its groups (cache, data, model, trainer, ...) are built where they are used.
TRAIN = Command("train", run=lambda cfg, _: train(cfg), summary=lambda result, _: result.summary())


def main() -> None:
    """`fusion-train [overrides]`: train, then name the checkpoint and the swap to try."""
    launch(TRAIN)
