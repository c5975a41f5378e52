"""`python -m fusion.bench curriculum`: progressive curriculum vs flat training.

Both runs train on the same footage with held-out frames and end at the same
resolution: the `clips` curriculum (16 -> 128 px by default), and a flat run
of the same network at the final resolution from scratch. Held-out masked SSIM
is recorded against wall time at every validation; the flat run stops once it
reaches the progressive run's final SSIM or after `--flat-budget` times the
progressive run's wall time. Prints the time each needed to reach that SSIM
and writes the curve plot (`curves.png`) to the output folder and each run's
records to `<run>/clock.json` as they come. Only validations at the final resolution count for reaching it.
"""

import argparse
import time
from pathlib import Path

import lightning as L
from hydra import compose, initialize_config_dir

from fusion.bench._shared_clips import SHARED_CLIPS
from fusion.config import register_configs
from fusion.io.atomic import write_json

REPO = Path(__file__).resolve().parents[2]


class ValidationClock(L.Callback):
    """Records (seconds since `start`, resolution, held-out SSIM) after each validation
    into `path` as it goes (a stopped benchmark keeps its curve); stops the fit once
    `stop_at` SSIM is reached at `final_resolution` or `deadline` passes."""

    def __init__(self, path: Path, start: float, final_resolution: int, stop_at: float | None = None,
                 deadline: float | None = None):
        self.path, self.start, self.final_resolution = path, start, final_resolution
        self.stop_at, self.deadline = stop_at, deadline
        self.records: list[dict] = []

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Record this validation's time and SSIM, and stop the fit at the target SSIM or past the deadline."""
        record = {"seconds": round(time.perf_counter() - self.start, 1), "phase": pl_module.phase.label,
                  "resolution": pl_module.phase.resolution, "ssim": float(trainer.callback_metrics["val/ssim"])}
        self.records.append(record)
        write_json(self.path, self.records)
        final = record["resolution"] == self.final_resolution
        if (final and self.stop_at is not None and record["ssim"] >= self.stop_at) or \
                (self.deadline is not None and record["seconds"] > self.deadline):
            trainer.should_stop = True


def time_to_reach(records: list[dict], ssim: float, resolution: int) -> float | None:
    """Seconds until a validation at `resolution` first reached `ssim`, or None: the benchmark's measure of speed."""
    hits = [r["seconds"] for r in records if r["resolution"] == resolution and r["ssim"] >= ssim]
    return min(hits) if hits else None


def plot(runs: dict[str, list[dict]], target: float, path: Path) -> None:
    """Held-out SSIM against wall time per run, with the target line, as the PNG `path`: the curves by eye."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    for name, records in runs.items():
        axis.plot([r["seconds"] / 60 for r in records], [r["ssim"] for r in records], marker="o", markersize=3, label=name)
    axis.axhline(target, color="grey", linestyle="--", label=f"target SSIM {target:.3f}")
    axis.set(xlabel="wall time (min)", ylabel="held-out masked SSIM", title="progressive curriculum vs flat training")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv: list[str]) -> dict:
    """Train the progressive run, then the flat run until it reaches the progressive run's final SSIM or its
    time budget; return the times to reach that SSIM and their ratio.
    """
    parser = argparse.ArgumentParser(prog="python -m fusion.bench curriculum")
    parser.add_argument("--footage", default=str(SHARED_CLIPS))
    parser.add_argument("--experiment", default="clips")
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "bench" / "curriculum" / time.strftime("%Y-%m-%d_%H-%M-%S"))
    parser.add_argument("--flat-budget", type=float, default=2.5, help="flat run's time limit, in progressive run times")
    parser.add_argument("--conf", type=Path, default=REPO / "conf", help="the config folder (a checkout's conf/)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for both runs, e.g. curriculum=tiny")
    args = parser.parse_args(argv)
    if not Path(args.footage).is_dir():
        raise SystemExit(f"{args.footage} not found: pass --footage DIR")
    if not (args.conf / "train.yaml").is_file():
        raise SystemExit(f"{args.conf} holds no train.yaml: pass --conf with a fusion checkout's conf/ folder")
    from hydra.utils import instantiate

    from fusion.training.run import train

    register_configs()
    base = [f"experiment={args.experiment}", f"footage={args.footage}", "logger=csv", *args.overrides]
    with initialize_config_dir(str(args.conf.resolve()), version_base="1.3"):
        progressive_cfg = compose("train", overrides=base + [f"paths.run_dir={args.out / 'progressive'}"])
        final = progressive_cfg.curriculum.stages[-1]
        flat_stage = {"resolution": final.resolution, "quantity": final.quantity, "batch_size": final.batch_size,
                      "lr": final.lr, "steps_a": 0, "steps_b": 10**6}
        flat_cfg = compose("train", overrides=base + [
            f"paths.run_dir={args.out / 'flat'}", "curriculum.finetune=null",
            "curriculum.stages=[{" + ", ".join(f"{k}: {v}" for k, v in flat_stage.items()) + "}]"])

    instantiate(progressive_cfg.data, _convert_="all").prepare_cache()  # shared by both runs: not timed
    start = time.perf_counter()
    progressive = ValidationClock(args.out / "progressive" / "clock.json", start, final.resolution)
    train(progressive_cfg, extra_callbacks=[progressive])
    progressive_seconds = time.perf_counter() - start
    target = progressive.records[-1]["ssim"]

    start = time.perf_counter()
    flat = ValidationClock(args.out / "flat" / "clock.json", start, final.resolution, stop_at=target,
                           deadline=args.flat_budget * progressive_seconds)
    train(flat_cfg, extra_callbacks=[flat])

    runs = {"progressive": progressive.records, "flat": flat.records}
    plot(runs, target, args.out / "curves.png")
    reach = {name: time_to_reach(records, target, final.resolution) for name, records in runs.items()}
    return {
        "footage": args.footage, "final_resolution": final.resolution, "target_ssim": round(target, 4),
        "seconds_to_target": reach,
        "flat_over_progressive": round(reach["flat"] / reach["progressive"], 2) if reach["flat"] else
        f"> {args.flat_budget} (flat never reached the target)",
        "flat_best_ssim": round(max(r["ssim"] for r in flat.records if r["resolution"] == final.resolution), 4),
        "plot": str(args.out / "curves.png"),
    }
