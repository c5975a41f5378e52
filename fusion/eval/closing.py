"""What `evaluate` prints when it ends: the summary scores in a few lines, and where the rest was written.

The full metrics (per identity, per swap) are in metrics.json; these lines are
the ones a user reads first, each score with what it is measured against.
"""

from pathlib import Path

from fusion.metrics.expression import REGIONS


def _scores(summary: dict, where: str) -> list[str]:
    """The lines of one `summary` (crop space or plate scale), each score to three decimals, "n/a" where no swap
    could give it."""
    value = {key: "n/a" if v is None else f"{v:.3f}" for key, v in summary.items()}
    return [f"{where}: swaps: identity retrieval {value['retrieval_accuracy']}, landmark error "
            f"{value['landmark_error']} (self-swap floor {value['landmark_error_self_swap']}, detector on real "
            f"frames {value['landmark_error_real']}), flicker ratio {value['temporal_ratio']} "
            f"({value['temporal_ratio_self_swap']}), sharpness ratio {value['sharpness_ratio']} "
            f"({value['sharpness_ratio_self_swap']}; the model's resolution allows "
            f"{value['sharpness_ratio_ceiling']}), color error {value['color_error']} (CIEDE2000 of the mean "
            "face color)",
            "  landmark error by region (the jaw follows the matte's edge, the rest the expression): "
            + ", ".join(f"{region} {value[f'landmark_error_{region}']}" for region in REGIONS),
            f"  following the plate (self-swap floor): pose error {value['pose_error']} degrees "
            f"({value['pose_error_self_swap']}), mouth opening error {value['mouth_error']} "
            f"({value['mouth_error_self_swap']}), eye openness error {value['eye_error']} "
            f"({value['eye_error_self_swap']}), mouth correlation {value['mouth_correlation']}; identity margin "
            f"{value['identity_margin']}"]


def evaluate_summary(metrics: dict, out: str | Path, wandb_run: Path | None = None) -> list[str]:
    """The closing lines of an evaluation that wrote `metrics` into `out` (and logged them to `wandb_run`): the
    summary in crop space, then at plate scale where it ran, and where the rest is."""
    ssim = metrics["summary"]["ssim"]
    lines = [f"held-out frames of {len(metrics['identities'])} identities: masked SSIM "
             f"{'n/a' if ssim is None else f'{ssim:.3f}'}", *_scores(metrics["summary"], "in crop space")]
    sheets = [Path(out) / "contact_sheet.png"]
    if "plate_scale" in metrics:
        plates = metrics["plate_scale"]
        missed = sum(plates["frames_without_face"].values())
        lines += _scores(plates["summary"], f"at plate scale ({missed} held-out frames without a face)")
        sheets.append(Path(out) / "contact_sheet_plate.png")
    if "plate_scale_skipped" in metrics:
        lines.append(f"not scored at plate scale: {metrics['plate_scale_skipped']}")
    if "matte_scores" in metrics:
        scores = metrics["matte_scores"]
        lines.append(f"learned matte on {scores['crops']} held-out crops: IoU with occluders "
                     f"{scores['occluded_learned']:.3f} (the hull alone {scores['occluded_hull']:.3f}), without "
                     f"{scores['clean_learned_vs_hull']:.3f} of the hull")
    lines.append(f"per identity and per swap: {Path(out) / 'metrics.json'}; contact sheets: "
                 f"{', '.join(map(str, sheets))}; timelines: {Path(out) / 'timelines'}")
    if wandb_run is not None:
        lines.append(f"W&B run in {wandb_run}")
    return lines
