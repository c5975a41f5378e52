"""Evaluation results on a W&B dashboard: one table row per swap, the summary, the contact sheet and each
swap's timeline (`timelines/<p>_to_<q>`), in crop space and, where it ran, at plate scale (`swaps_plate`,
`summary_plate/*`, `contact_sheet_plate`, `timelines/<p>_to_<q>_plate`).

Online where a key is configured, offline otherwise (`wandb sync` later), as
for training (`fusion.tracking`).
"""

import os
from pathlib import Path

COLUMNS = ["swap", "faces_found", "distance_to_source", "distance_to_template", "retrieval_accuracy",
           "identity_margin", "landmark_error", "pose_error", "mouth_error", "eye_error", "mouth_correlation",
           "temporal_ratio", "sharpness_ratio"]


def swap_table(swaps: dict):
    """A `wandb.Table` of a metrics.json `swaps` section, one row per "template->identity" swap."""
    import wandb

    rows = [[name] + [values[column] for column in COLUMNS[1:]] for name, values in swaps.items()]
    return wandb.Table(columns=COLUMNS, data=rows)


def log_evaluation(metrics: dict, out: Path, project: str = "fusion", name: str | None = None) -> str:
    """Log the table, the summary (`summary/*`), `out/contact_sheet.png` and `out/timelines/*.png`, and their
    plate-scale counterparts, as one W&B run; returns its folder. W&B and Lightning (`fusion.tracking`) load
    here, not with the command."""
    import wandb

    from fusion.tracking import wandb_key_configured

    mode = os.environ.get("WANDB_MODE", "online" if wandb_key_configured() else "offline")
    run = wandb.init(project=project, name=name, job_type="evaluate", dir=str(out), mode=mode,
                     config={"checkpoint": metrics["checkpoint"], "resolution": metrics["resolution"]})
    timelines = sorted((Path(out) / "timelines").glob("*.png"))
    sections = {"": metrics, **({"_plate": metrics["plate_scale"]} if "plate_scale" in metrics else {})}
    logged = {f"timelines/{path.stem}": wandb.Image(str(path)) for path in timelines}
    for suffix, section in sections.items():
        logged |= {f"swaps{suffix}": swap_table(section["swaps"]),
                   f"contact_sheet{suffix}": wandb.Image(str(Path(out) / f"contact_sheet{suffix}.png")),
                   **{f"summary{suffix}/{key}": value for key, value in section["summary"].items()
                      if value is not None}}
    run.log(logged)
    folder = run.dir
    run.finish()
    return folder
