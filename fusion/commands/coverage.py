"""`fusion-coverage` (`python coverage_report.py` in a checkout): the frames of a plate outside the poses and expressions
of an identity's training footage, before a swap."""

from fusion.commands.command import Command, launch
from fusion.config.schemas import CoverageConfig
from fusion.eval.coverage import coverage

COVERAGE = Command("coverage", schema=CoverageConfig,
                   run=lambda o, cfg: coverage(o.checkpoint, o.identity, o.input, o.output, o, o.overwrite,
                                               cache=o.cache_folder, cache_dir=cfg.paths.cache_dir),
                   summary=lambda report, _: report.summary())


def main() -> None:
    """`fusion-coverage checkpoint=... identity=... input=... [output=...]`."""
    launch(COVERAGE)
