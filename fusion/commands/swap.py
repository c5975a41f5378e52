"""`fusion-swap` (`python swap.py` in a checkout): a trained identity's face swapped into a plate."""

from fusion.commands.command import Command, launch
from fusion.config.schemas import SwapConfig
from fusion.swap.pipeline import swap
from fusion.swap.summary import swap_summary

SWAP = Command("swap", schema=SwapConfig,
               run=lambda o, cfg: swap(o.input, o.output, o.checkpoint, o.identity, o, cfg.paths.cache_dir),
               summary=lambda report, o: swap_summary(report, o.output, o.checkpoint, o.preview))


def main() -> None:
    """`fusion-swap checkpoint=... identity=... input=... output=...`."""
    launch(SWAP)
