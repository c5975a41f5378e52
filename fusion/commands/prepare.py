"""`fusion-prepare` (`python prepare.py` in a checkout): footage to an aligned face cache."""

from typing import TYPE_CHECKING

from omegaconf import DictConfig

from fusion.commands.command import Command, launch
from fusion.data.prepare_options import PrepareConfig

if TYPE_CHECKING:
    from fusion.data.prepare_command import PrepareResult


def run(options: PrepareConfig, cfg: DictConfig) -> "PrepareResult":
    """The prepare (`run_prepare`); face finding (torch) loads here, so `--help` or a refused command line never
    waits for it."""
    from fusion.data.prepare_command import run_prepare
    return run_prepare(options, cfg)


PREPARE = Command("prepare", schema=PrepareConfig, run=run, summary=lambda result, _: result.summary(),
                  fails=lambda result: result.fails())


def main() -> None:
    """`fusion-prepare footage=PATH [crop.resolution=...]`: prepare, then show what was kept (exit 1: no face)."""
    launch(PREPARE)
