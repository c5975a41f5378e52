"""`fusion-coverage` (`python coverage_report.py` in a checkout): the frames of a plate outside the poses and expressions
of an identity's training footage, before a swap."""

from typing import TYPE_CHECKING

from omegaconf import DictConfig

from fusion.commands.command import Command, launch
from fusion.config.schemas import CoverageConfig

if TYPE_CHECKING:
    from fusion.eval.coverage import CoverageReport


def run(options: CoverageConfig, cfg: DictConfig) -> "CoverageReport":
    """The comparison; the face finding (torch) loads here, so `--help` or a refused command line never waits
    for it."""
    from fusion.eval.coverage import coverage
    return coverage(options.checkpoint, options.identity, options.input, options.output, options, options.overwrite,
                    cache=options.cache_folder, cache_dir=cfg.paths.cache_dir)


COVERAGE = Command("coverage", schema=CoverageConfig, run=run, summary=lambda report, _: report.summary())


def main() -> None:
    """`fusion-coverage checkpoint=... identity=... input=... [output=...]`."""
    launch(COVERAGE)
