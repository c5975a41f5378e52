"""`fusion-swap` (`python swap.py` in a checkout): a trained identity's face swapped into a plate."""

from typing import TYPE_CHECKING

from omegaconf import DictConfig

from fusion.commands.command import Command, launch
from fusion.config.schemas import SwapConfig

if TYPE_CHECKING:
    from fusion.swap.pipeline import SwapReport


def run(options: SwapConfig, cfg: DictConfig) -> "SwapReport":
    """The swap; the pipeline (torch) loads here, so `--help` or a refused command line never waits for it."""
    from fusion.swap.pipeline import swap
    return swap(options.input, options.output, options.checkpoint, options.identity, options, cfg.paths.cache_dir)


def summary(report: "SwapReport", options: SwapConfig) -> list[str]:
    """The closing lines (`swap_summary`, which loads the pipeline's modules too)."""
    from fusion.swap.summary import swap_summary
    return swap_summary(report, options.output, options.checkpoint, options.preview)


SWAP = Command("swap", schema=SwapConfig, run=run, summary=summary)


def main() -> None:
    """`fusion-swap checkpoint=... identity=... input=... output=...`."""
    launch(SWAP)
