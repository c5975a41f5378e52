"""Evaluation results on a W&B dashboard: one table row per swap, the summary, the contact sheet and each
swap's timeline (`timelines/<p>_to_<q>`).

Online where a key is configured, offline otherwise (`wandb sync` later), as
for training (`fusion.tracking`).
"""

import os
from pathlib import Path

COLUMNS = ["swap", "faces_found", "distance_to_source", "distance_to_template", "retrieval_accuracy",
           "identity_margin", "landmark_error", "pose_error", "mouth_error", "eye_error", "mouth_correlation",
           "temporal_ratio", "sharpness_ratio"]


def swap_table(metrics: dict):
    """A `wandb.Table` of `metrics["swaps"]`, one row per "template->identity" swap."""
    import wandb

    rows = [[name] + [values[column] for column in COLUMNS[1:]] for name, values in metrics["swaps"].items()]
    return wandb.Table(columns=COLUMNS, data=rows)


def log_evaluation(metrics: dict, out: Path, project: str = "fusion", name: str | None = None) -> str:
    """Log the table, the summary (`summary/*`), `out/contact_sheet.png` and `out/timelines/*.png` as one W&B
    run; returns its folder. W&B and Lightning (`fusion.tracking`) load here, not with the command."""
    import wandb

    from fusion.tracking import wandb_key_configured

    mode = os.environ.get("WANDB_MODE", "online" if wandb_key_configured() else "offline")
    run = wandb.init(project=project, name=name, job_type="evaluate", dir=str(out), mode=mode,
                     config={"checkpoint": metrics["checkpoint"], "resolution": metrics["resolution"]})
    timelines = sorted((Path(out) / "timelines").glob("*.png"))
    run.log({"swaps": swap_table(metrics), "contact_sheet": wandb.Image(str(Path(out) / "contact_sheet.png")),
             **{f"timelines/{path.stem}": wandb.Image(str(path)) for path in timelines},
             **{f"summary/{key}": value for key, value in metrics["summary"].items() if value is not None}})
    folder = run.dir
    run.finish()
    return folder
