"""`fusion-tune` (`python tune.py` in a checkout): a checkpoint's encoder tuned on one shot."""

from fusion.commands.command import Command, launch
from fusion.config.schemas import TuneConfig
from fusion.tune.shot import tune_shot

TUNE = Command("tune", schema=TuneConfig,
               run=lambda o, _: tune_shot(o.checkpoint, o.shot, o.actor, o, o.out, o.overwrite, o.work),
               summary=lambda result, o: result.summary(o.actor, o.checkpoint, o.shot))


def main() -> None:
    """`fusion-tune checkpoint=... actor=... shot=...`."""
    launch(TUNE)
