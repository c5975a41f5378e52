"""`fusion-tune` (`python tune.py` in a checkout): a checkpoint's encoder tuned on one shot."""

from typing import TYPE_CHECKING

from omegaconf import DictConfig

from fusion.commands.command import Command, launch
from fusion.config.schemas import TuneConfig

if TYPE_CHECKING:
    from fusion.tune.shot import ShotTuningResult


def run(options: TuneConfig, cfg: DictConfig) -> "ShotTuningResult":
    """The tuning; torch loads here, so `--help` or a refused command line never waits for it."""
    from fusion.tune.shot import tune_shot
    return tune_shot(options.checkpoint, options.shot, options.identity, options, options.output, options.overwrite,
                     options.work)


TUNE = Command("tune", schema=TuneConfig, run=run,
               summary=lambda result, o: result.summary(o.identity, o.checkpoint, o.shot))


def main() -> None:
    """`fusion-tune checkpoint=... identity=... shot=...`."""
    launch(TUNE)
