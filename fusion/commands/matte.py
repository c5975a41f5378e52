"""`fusion-matte` (`python matte.py` in a checkout): a checkpoint's occlusion-aware face matte, learned
semi-supervised and written into a copy of the checkpoint."""

from fusion.commands.command import Command, launch
from fusion.config.schemas import MatteCommandConfig
from fusion.occlusion.fit import fit_matte

MATTE = Command("matte", schema=MatteCommandConfig,
                run=lambda o, cfg: fit_matte(o.checkpoint, o.cache_folder, o, o.output, o.overwrite,
                                             cache_dir=cfg.paths.cache_dir),
                summary=lambda result, _: result.summary())


def main() -> None:
    """`fusion-matte checkpoint=... [cache_folder=...]`."""
    launch(MATTE)
