"""Held-out metrics of a trained model: `python evaluate.py checkpoint=... [cache_folder=...]`."""

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from fusion.config import register_configs
from fusion.config.schemas import EvaluateConfig
from fusion.errors import UserError
from fusion.eval.evaluate import evaluate
from fusion.eval.summary import evaluate_summary
from fusion.eval.wandb_report import log_evaluation
from fusion.instantiate import to_schema

register_configs()


@hydra.main(version_base="1.3", config_path="fusion/conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    """Compose the evaluate config and score the model; a UserError is one line and exit 2."""
    try:
        options = to_schema(cfg, EvaluateConfig)  # the EvaluateOptions plus which model, cache and folder
        metrics = evaluate(options.checkpoint, options.cache_folder, options.out, options,
                           cache_dir=cfg.paths.cache_dir)
    except (UserError, FileNotFoundError) as error:
        print(f"evaluate failed: {error}", file=sys.stderr)
        sys.exit(2)
    wandb_run = log_evaluation(metrics, Path(options.out)) if options.wandb else None
    print("\n".join(evaluate_summary(metrics, options.out, wandb_run)))


if __name__ == "__main__":
    main()
