"""`fusion-prepare` (`python prepare.py` in a checkout): footage to an aligned face cache."""

from fusion.commands.command import Command, launch
from fusion.data.prepare_command import PrepareConfig, PrepareResult, run_prepare

PREPARE = Command("prepare", schema=PrepareConfig, run=run_prepare, summary=lambda result, _: result.summary(),
                  fails=PrepareResult.fails)


def main() -> None:
    """`fusion-prepare footage=PATH [crop.resolution=...]`: prepare, then show what was kept (exit 1: no face)."""
    launch(PREPARE)
