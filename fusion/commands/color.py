"""`fusion-color` (`python color.py` in a checkout): a checkpoint's color-harmonisation LUT network
(image-adaptive 3D LUT), written into a copy of the checkpoint."""

from typing import TYPE_CHECKING

from omegaconf import DictConfig

from fusion.commands.command import Command, launch
from fusion.config.schemas import ColorCommandConfig

if TYPE_CHECKING:
    from fusion.color.fit import ColorResult


def run(options: ColorCommandConfig, cfg: DictConfig) -> "ColorResult":
    """The LUT network's training; torch loads here, so `--help` or a refused command line never waits for it."""
    from fusion.color.fit import fit_color
    return fit_color(options.checkpoint, options.cache_folder, options, options.output, options.overwrite,
                     cache_dir=cfg.paths.cache_dir)


COLOR = Command("color", schema=ColorCommandConfig, run=run, summary=lambda result, _: result.summary())


def main() -> None:
    """`fusion-color checkpoint=... [cache_folder=...]`."""
    launch(COLOR)
