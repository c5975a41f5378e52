"""Held-out metrics of a trained model: `python evaluate.py checkpoint=... cache=...`."""

import json
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from fusion.errors import UserError
from fusion.eval.evaluate import evaluate
from fusion.eval.wandb_report import log_evaluation


@hydra.main(version_base="1.3", config_path="conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    """Compose the evaluate config and score the model; a UserError is one line and exit 2."""
    try:
        metrics = evaluate(cfg.checkpoint, cfg.cache_folder, cfg.out, cache_dir=cfg.paths.cache_dir, holdout=cfg.holdout,
                           device=cfg.device,
                           precision=cfg.precision, batch_size=cfg.batch_size, blend=cfg.blend, erode=cfg.erode,
                           feather=cfg.feather, overwrite=cfg.overwrite)
    except (UserError, FileNotFoundError) as error:
        print(f"evaluate failed: {error}", file=sys.stderr)
        sys.exit(2)
    print(json.dumps(metrics["summary"], indent=1))
    print(f"metrics.json and contact_sheet.png in {cfg.out}")
    if cfg.wandb:
        print(f"W&B run in {log_evaluation(metrics, Path(cfg.out))}")


if __name__ == "__main__":
    main()
