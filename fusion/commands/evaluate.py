"""`fusion-evaluate` (`python evaluate.py` in a checkout): a model scored on held-out frames."""

from pathlib import Path

from omegaconf import DictConfig

from fusion.commands.command import Command, launch
from fusion.config.schemas import EvaluateConfig
from fusion.eval.closing import evaluate_summary
from fusion.eval.wandb_report import log_evaluation


def score(options: EvaluateConfig, cfg: DictConfig) -> tuple[dict, Path | None]:
    """The metrics, written to `options.output`, and the W&B run they were logged to (`wandb=true`), or None;
    the evaluation (torch) loads here, so `--help` or a refused command line never waits for it."""
    from fusion.eval.evaluate import evaluate
    metrics = evaluate(options.checkpoint, options.cache_folder, options.output, options, cache_dir=cfg.paths.cache_dir)
    return metrics, log_evaluation(metrics, Path(options.output)) if options.wandb else None


EVALUATE = Command("evaluate", schema=EvaluateConfig, run=score,
                   summary=lambda scored, o: evaluate_summary(scored[0], o.output, scored[1]))


def main() -> None:
    """`fusion-evaluate checkpoint=... [cache_folder=...]`."""
    launch(EVALUATE)
