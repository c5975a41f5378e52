"""`fusion-tune` (`python tune.py` in a checkout): a checkpoint's encoder tuned on one shot."""

from fusion.commands.command import Command, launch
from fusion.config.schemas import TuneConfig
from fusion.tune.shot import tune_shot

TUNE = Command("tune", schema=TuneConfig,
               run=lambda o, _: tune_shot(o.checkpoint, o.shot, o.identity, o, o.output, o.overwrite, o.work),
               summary=lambda result, o: result.summary(o.identity, o.checkpoint, o.shot))


def main() -> None:
    """`fusion-tune checkpoint=... identity=... shot=...`."""
    launch(TUNE)
