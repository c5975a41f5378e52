"""`python -m fusion.bench curriculum`: what each part of the staged curriculum buys, against flat training.

Five variants of one curriculum preset (`clips_as_written` by default: the method as written), cut at
`--final` px, train on the same footage, with the same held-out frames, the same total step budget and the
same learning-rate shape (each resolution's lr, then the preset's low-lr fine-tune at the final resolution):

- `flat`: the final network from scratch at the final resolution (the last stage's lr and batch);
- `growth`: progressive growth, no phase A (nothing frozen), the first stage's quantity throughout;
- `growth_freeze`: adds phase A (only the new level trains, fading in);
- `growth_shrink`: no phase A, the preset's shrinking quantities;
- `full`: growth, phase A and shrinking quantities: the preset as written.

Each runs once per `--seeds` value (the network's initialisation and the triplet draws). Held-out masked SSIM
is recorded at every validation against training wall time (validations excluded, so their frequency
costs nothing); only validations at the final resolution count. The packs every variant needs are built
first, untimed. Prints, per variant, the seconds to reach each SSIM level (and flat's time over it), the
SSIM at the time the quickest run ends, and the spread between seeds; writes `curves.png` and each run's
records (`<variant>/seed<k>/clock.json`, as they come) to `--out`.
"""

import argparse
import statistics
import time
from pathlib import Path

import lightning as L
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from fusion.bench._shared_clips import SHARED_CLIPS
from fusion.config import CONF, register_configs
from fusion.io.atomic import write_json

REPO = Path(__file__).resolve().parents[2]
VARIANTS = ("flat", "growth", "growth_freeze", "growth_shrink", "full")


def variant_curriculum(preset: dict, variant: str, final: int, scale: float = 1.0) -> dict:
    """The preset's stages up to `final` px, with every step count times `scale`, reshaped as `variant`.

    The total step count is the same for every variant; so is the fine-tune (the preset's, at `final` px).
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant {variant!r}: one of {VARIANTS}")
    stages = [dict(s) for s in preset["stages"] if s["resolution"] <= final]
    if not stages or stages[-1]["resolution"] != final:
        raise ValueError(f"the preset has no stage at {final} px: pick --final from {[s['resolution'] for s in preset['stages']]}")
    if not preset.get("finetune"):
        raise ValueError("the preset has no fine-tune: every variant ends with one, so the comparison is fair")
    for stage in stages:
        stage.update(steps_a=round(stage.get("steps_a", 0) * scale), steps_b=round(stage["steps_b"] * scale),
                     fade_steps=round(stage.get("fade_steps", 0) * scale))
    tune = {**preset["finetune"], "resolution": final, "quantity": min(preset["finetune"]["quantity"], stages[-1]["quantity"]),
            "steps_a": 0, "steps_b": round(preset["finetune"]["steps_b"] * scale), "fade_steps": 0}
    tune.pop("input_resolution", None)
    if variant in ("flat", "growth", "growth_shrink"):
        for stage in stages:
            stage.update(steps_b=stage["steps_a"] + stage["steps_b"], steps_a=0, fade_steps=0)
    if variant in ("flat", "growth", "growth_freeze"):
        for stage in stages + [tune]:
            stage["quantity"] = stages[0]["quantity"]
    if variant == "flat":
        last = stages[-1]
        stages = [{"resolution": final, "quantity": last["quantity"], "batch_size": last["batch_size"], "lr": last["lr"],
                   "steps_a": 0, "steps_b": sum(s["steps_b"] for s in stages), "fade_steps": 0}]
    return {"stages": stages, "finetune": tune}


def total_steps(curriculum: dict) -> int:
    """Every optimizer step the curriculum takes, fine-tune included: the budget all variants share."""
    return sum(s["steps_a"] + s["steps_b"] for s in curriculum["stages"]) + curriculum["finetune"]["steps_b"]


class ValidationClock(L.Callback):
    """Records (training seconds since `start`, phase, resolution, held-out SSIM) after each validation into
    `path` as it goes (a stopped benchmark keeps its curve). Validation time is left out of the clock."""

    def __init__(self, path: Path, start: float):
        self.path, self.start, self.paused = path, start, 0.0
        self.records: list[dict] = []
        self._validation_began: float | None = None

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Stop the clock."""
        self._validation_began = time.perf_counter()

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Record this validation's training time and SSIM, then restart the clock."""
        now = time.perf_counter()
        record = {"seconds": round(self._validation_began - self.start - self.paused, 1), "step": trainer.global_step,
                  "phase": pl_module.phase.label, "resolution": pl_module.phase.resolution,
                  "ssim": float(trainer.callback_metrics["val/ssim"])}
        self.paused += now - self._validation_began
        self.records.append(record)
        write_json(self.path, self.records)


def final_records(records: list[dict], resolution: int) -> list[dict]:
    """The validations at the final resolution: the only ones comparable across variants."""
    return [r for r in records if r["resolution"] == resolution]


def time_to_reach(records: list[dict], ssim: float, resolution: int) -> float | None:
    """Seconds until a validation at `resolution` first reached `ssim`, or None: the benchmark's measure of speed."""
    hits = [r["seconds"] for r in final_records(records, resolution) if r["ssim"] >= ssim]
    return min(hits) if hits else None


def ssim_at(records: list[dict], seconds: float, resolution: int) -> float | None:
    """The held-out SSIM of the last validation at `resolution` no later than `seconds`, or None."""
    before = [r for r in final_records(records, resolution) if r["seconds"] <= seconds]
    return before[-1]["ssim"] if before else None


def ssim_levels(runs: dict[tuple[str, int], list[dict]], resolution: int, count: int = 4, step: float = 0.01) -> list[float]:
    """`count` SSIM levels `step` apart, the highest the median of the runs' best final-resolution SSIM."""
    top = statistics.median(max(r["ssim"] for r in final_records(records, resolution)) for records in runs.values())
    return [round(top - step * k, 3) for k in reversed(range(count))]


def summarise(runs: dict[tuple[str, int], list[dict]], resolution: int, levels: list[float]) -> dict:
    """Per variant: seconds to each level per seed and their mean, flat's mean time over it, the SSIM when the
    quickest run ends, and the seeds' spread."""
    equal_time = min(records[-1]["seconds"] for records in runs.values())
    variants = list(dict.fromkeys(variant for variant, _ in runs))

    def mean(values: list) -> float | None:
        return round(statistics.mean(values), 1) if values and None not in values else None

    table = {}
    for variant in variants:
        seeds = {seed: records for (v, seed), records in runs.items() if v == variant}
        reach = {str(level): [time_to_reach(records, level, resolution) for records in seeds.values()] for level in levels}
        at_equal = [ssim_at(records, equal_time, resolution) for records in seeds.values()]
        finals = [final_records(records, resolution)[-1]["ssim"] for records in seeds.values()]
        table[variant] = {
            "seconds_to_ssim": {level: {"per_seed": times, "mean": mean(times)} for level, times in reach.items()},
            "ssim_at_equal_time": {"per_seed": [None if s is None else round(s, 4) for s in at_equal],
                                   "mean": None if None in at_equal else round(statistics.mean(at_equal), 4)},
            "final_ssim": {"per_seed": [round(s, 4) for s in finals], "seed_spread": round(max(finals) - min(finals), 4)},
            "train_seconds": [records[-1]["seconds"] for records in seeds.values()],
        }
    if "flat" in table:
        for variant, row in table.items():
            row["flat_time_over_this"] = {
                level: (round(table["flat"]["seconds_to_ssim"][level]["mean"] / cell["mean"], 2)
                        if cell["mean"] and table["flat"]["seconds_to_ssim"][level]["mean"] else None)
                for level, cell in row["seconds_to_ssim"].items()}
    return {"equal_time_seconds": equal_time, "ssim_levels": levels, "variants": table}


def plot(runs: dict[tuple[str, int], list[dict]], resolution: int, levels: list[float], path: Path) -> None:
    """Held-out SSIM at the final resolution against training time, a color per variant and a line style
    per seed, with the SSIM levels: the curves by eye."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 4.5))
    colors = dict(zip(VARIANTS, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    seeds = sorted({seed for _, seed in runs})
    for (variant, seed), records in runs.items():
        points = final_records(records, resolution)
        axis.plot([r["seconds"] / 60 for r in points], [r["ssim"] for r in points], color=colors[variant],
                  linestyle=["-", "--", ":", "-."][seeds.index(seed) % 4], marker="o", markersize=2,
                  label=f"{variant} (seed {seed})")
    for level in levels:
        axis.axhline(level, color="grey", linewidth=0.5, linestyle=":")
    axis.set(xlabel="training wall time (min, validations excluded)", ylabel=f"held-out masked SSIM at {resolution} px",
             title="curriculum ablation")
    lows = [r["ssim"] for records in runs.values() for r in final_records(records, resolution)]
    axis.set_ylim(max(min(lows), min(levels) - 0.05), max(lows) + 0.005)
    axis.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv: list[str]) -> dict:
    """Build every variant's packs, train every variant once per seed, and return the comparison."""
    parser = argparse.ArgumentParser(prog="python -m fusion.bench curriculum")
    parser.add_argument("--footage", default=str(SHARED_CLIPS))
    parser.add_argument("--experiment", default="clips")
    parser.add_argument("--preset", default="clips_as_written", help="the curriculum preset the variants reshape")
    parser.add_argument("--final", type=int, default=64, help="final resolution: 64 (about 15 min a run on 2 cores) or 128")
    parser.add_argument("--scale", type=float, default=1.0, help="every step count times this (same for all variants)")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--val-every", type=int, default=75, help="steps between validations")
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "bench" / "curriculum" / time.strftime("%Y-%m-%d_%H-%M-%S"))
    parser.add_argument("--conf", type=Path, default=CONF, help="the config folder (fusion's own conf/)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every run, e.g. data.cache_folder=DIR")
    args = parser.parse_args(argv)
    if not Path(args.footage).is_dir():
        raise SystemExit(f"{args.footage} not found: pass --footage DIR")
    if not (args.conf / "train.yaml").is_file():
        raise SystemExit(f"{args.conf} holds no train.yaml: pass --conf with a folder laid out as fusion/conf/")
    from hydra.utils import instantiate

    from fusion.training.run import train
    from fusion.training.schedule import phases

    register_configs()
    base = [f"experiment={args.experiment}", f"curriculum={args.preset}", f"footage={args.footage}", "logger=csv",
            f"val_every={args.val_every}", *args.overrides]
    configs, curricula = {}, {}
    with initialize_config_dir(str(args.conf.resolve()), version_base="1.3"):
        preset = OmegaConf.to_container(compose("train", overrides=base).curriculum)
        for variant in args.variants:
            curricula[variant] = curriculum = variant_curriculum(preset, variant, args.final, args.scale)
            for seed in args.seeds:
                run_dir = args.out / variant / f"seed{seed}"
                cfg = compose("train", overrides=base + [f"paths.run_dir={run_dir}", f"model.net.seed={seed}", f"data.seed={seed}"])
                cfg.curriculum = OmegaConf.merge(cfg.curriculum, curriculum)
                configs[variant, seed] = cfg

    for cfg in configs.values():  # the cache and every pack, untimed
        datamodule = instantiate(cfg.data, _convert_="all")
        for phase in phases(OmegaConf.to_object(cfg.curriculum)):
            datamodule.phase = phase
            datamodule.prepare_data()

    runs = {}
    for (variant, seed), cfg in configs.items():
        clock = ValidationClock(Path(cfg.paths.run_dir) / "clock.json", time.perf_counter())
        train(cfg, extra_callbacks=[clock])
        runs[variant, seed] = clock.records

    levels = ssim_levels(runs, args.final)
    plot(runs, args.final, levels, args.out / "curves.png")
    steps = {variant: total_steps(curriculum) for variant, curriculum in curricula.items()}
    return {
        "footage": args.footage, "experiment": args.experiment, "final_resolution": args.final, "scale": args.scale,
        "seeds": args.seeds, "total_steps": steps, **summarise(runs, args.final, levels),
        "plot": str(args.out / "curves.png"), "records": str(args.out),
    }
