"""Held-out metrics of a trained model: `python evaluate.py checkpoint=... [cache_folder=...]`."""

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from fusion.config import register_configs
from fusion.config.schemas import EvaluateConfig
from fusion.errors import UserError
from fusion.eval.evaluate import evaluate
from fusion.eval.wandb_report import log_evaluation
from fusion.instantiate import to_schema
from fusion.metrics.expression import REGIONS

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
    value = {key: "n/a" if v is None else f"{v:.3f}" for key, v in metrics["summary"].items()}
    print(f"held-out frames of {len(metrics['identities'])} identities: masked SSIM {value['ssim']}")
    print(f"swaps: identity retrieval {value['retrieval_accuracy']}, landmark error {value['landmark_error']} "
          f"(self-swap floor {value['landmark_error_self_swap']}, "
          f"detector on real frames {value['landmark_error_real']}), flicker ratio {value['temporal_ratio']}, sharpness ratio {value['sharpness_ratio']}, "
          f"colour error {value['color_error']} (CIEDE2000 of the mean face colour)")
    print("landmark error by region (the jaw follows the matte's edge, the rest the expression): "
          + ", ".join(f"{region} {value[f'landmark_error_{region}']}" for region in REGIONS))
    if "matte_scores" in metrics:
        scores = metrics["matte_scores"]
        print(f"learned matte on {scores['crops']} held-out crops: IoU with occluders {scores['occluded_learned']:.3f} "
              f"(the hull alone {scores['occluded_hull']:.3f}), without {scores['clean_learned_vs_hull']:.3f} of the hull")
    print(f"per identity and per swap: {Path(options.out) / 'metrics.json'}; contact sheet: "
          f"{Path(options.out) / 'contact_sheet.png'}")
    if options.wandb:
        print(f"W&B run in {log_evaluation(metrics, Path(options.out))}")


if __name__ == "__main__":
    main()
