"""`fusion-color` (`python color.py` in a checkout): a checkpoint's color-harmonisation LUT network
(image-adaptive 3D LUT), written into a copy of the checkpoint."""

from fusion.color.fit import fit_color
from fusion.commands.command import Command, launch
from fusion.config.schemas import ColorCommandConfig

COLOR = Command("color", schema=ColorCommandConfig,
                run=lambda o, cfg: fit_color(o.checkpoint, o.cache_folder, o, o.output, o.overwrite,
                                             cache_dir=cfg.paths.cache_dir),
                summary=lambda result, _: result.summary())


def main() -> None:
    """`fusion-color checkpoint=... [cache_folder=...]`."""
    launch(COLOR)
