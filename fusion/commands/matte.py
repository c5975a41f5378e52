"""`fusion-matte` (`python matte.py` in a checkout): a checkpoint's occlusion-aware face matte, learned
semi-supervised and written into a copy of the checkpoint."""

from typing import TYPE_CHECKING

from omegaconf import DictConfig

from fusion.commands.command import Command, launch
from fusion.config.schemas import MatteCommandConfig

if TYPE_CHECKING:
    from fusion.occlusion.fit import MatteResult


def run(options: MatteCommandConfig, cfg: DictConfig) -> "MatteResult":
    """The matte's training; torch loads here, so `--help` or a refused command line never waits for it."""
    from fusion.occlusion.fit import fit_matte
    return fit_matte(options.checkpoint, options.cache_folder, options, options.output, options.overwrite,
                     cache_dir=cfg.paths.cache_dir)


MATTE = Command("matte", schema=MatteCommandConfig, run=run, summary=lambda result, _: result.summary())


def main() -> None:
    """`fusion-matte checkpoint=... [cache_folder=...]`."""
    launch(MATTE)
