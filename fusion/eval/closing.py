"""What `evaluate` prints when it ends: the summary scores in a few lines, and where the rest was written.

The full metrics (per identity, per swap) are in metrics.json; these lines are
the ones a user reads first, each score with what it is measured against.
"""

from pathlib import Path

from fusion.metrics.expression import REGIONS


def evaluate_summary(metrics: dict, out: str | Path, wandb_run: Path | None = None) -> list[str]:
    """The closing lines of an evaluation that wrote `metrics` into `out` (and logged them to `wandb_run`):
    each summary score to three decimals, "n/a" where no swap could give it."""
    value = {key: "n/a" if v is None else f"{v:.3f}" for key, v in metrics["summary"].items()}
    lines = [f"held-out frames of {len(metrics['identities'])} identities: masked SSIM {value['ssim']}",
             f"swaps: identity retrieval {value['retrieval_accuracy']}, landmark error {value['landmark_error']} "
             f"(self-swap floor {value['landmark_error_self_swap']}, detector on real frames "
             f"{value['landmark_error_real']}), flicker ratio {value['temporal_ratio']}, sharpness ratio "
             f"{value['sharpness_ratio']}, color error {value['color_error']} (CIEDE2000 of the mean face color)",
             "landmark error by region (the jaw follows the matte's edge, the rest the expression): "
             + ", ".join(f"{region} {value[f'landmark_error_{region}']}" for region in REGIONS),
             f"following the plate (self-swap floor): pose error {value['pose_error']} degrees "
             f"({value['pose_error_self_swap']}), mouth opening error {value['mouth_error']} "
             f"({value['mouth_error_self_swap']}), eye openness error {value['eye_error']} "
             f"({value['eye_error_self_swap']}), mouth correlation {value['mouth_correlation']}; identity margin "
             f"{value['identity_margin']}"]
    if "matte_scores" in metrics:
        scores = metrics["matte_scores"]
        lines.append(f"learned matte on {scores['crops']} held-out crops: IoU with occluders "
                     f"{scores['occluded_learned']:.3f} (the hull alone {scores['occluded_hull']:.3f}), without "
                     f"{scores['clean_learned_vs_hull']:.3f} of the hull")
    lines.append(f"per identity and per swap: {Path(out) / 'metrics.json'}; contact sheet: "
                 f"{Path(out) / 'contact_sheet.png'}; timelines: {Path(out) / 'timelines'}")
    if wandb_run is not None:
        lines.append(f"W&B run in {wandb_run}")
    return lines
