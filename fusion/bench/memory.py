"""Peak GPU memory of every curriculum phase, sized on a CPU: `python -m fusion.bench memory experiment=paper`.

``python -m fusion.bench memory [OVERRIDES ...] [--gpus 8] [--identities 2] [--measure-up-to 1024]
[--precisions bf16 fp32] [--reuse JSON] [--out FILE] [--table FILE]``

OVERRIDES are `train.py`'s (Hydra) overrides: the model and curriculum sized are the ones training would
build. Per phase it prints the parameters, the optimizer state (and gradients, weight average, DDP
buckets), the activations of one training step per sample, the predicted peak GPU memory of one DDP
process in bf16 and fp32 at the phase's batch per GPU (the global batch over `--gpus` processes), and the
largest batch per GPU that fits 24, 48 and 80 GiB. JSON on stdout (and in `--out`), a table on stderr.

Method:

- Parameters are counted on the network grown through the plan (phase A trains only the newest level);
  what a process holds whatever the batch is `fusion.training.memory_plan`'s: fp32 weights (the master
  weights under bf16 autocast), the weight average, Adam's moments and gradients of what trains, DDP's
  bucket copy, and `CUDA_ALLOWANCE`.
- A step's allocation is measured: the module's real training step (decode, multi-band blends, masked
  SSIM + L1 on blended and raw faces), forward and backward on the CPU at full width, at two batch sizes
  (both identities in each), as the CPU allocator's peak (`torch.profiler` memory events) plus the batch:
  activations, their transients, and the gradients made by then. Its slope in the batch is the bytes per
  sample, at least the slope of what autograd saves for backward (`saved_tensors_hooks`, distinct
  storages, parameters left out; reported too): at low resolution the peak sits on the gradients and a
  small batch does not move it. Phase A's fade-in is measured half way, both paths running.
- bf16 runs under CPU autocast (bf16 conv inputs and weight casts saved, loss in fp32, as under CUDA
  autocast); on a CPU without bf16 it is modelled as half of fp32, and the JSON says so.
- Stages above `--measure-up-to`, or whose step would not fit half the free memory, are extrapolated along
  their series (phase A or B, precision): saved bytes per sample by the quadratic in the resolution
  through the last three measured stages from `blend_min_resolution` on (network maps grow as the
  resolution, the blend's and loss's images as its square; with two stages, their per-pixel growth
  ratio), the step's per sample in the proportion to them of the last measured stage, its fixed part as
  there. Each phase says what was measured; measured stages with three below them check the
  extrapolation (`extrapolation_checks`). `--reuse` sizes again from an earlier run's measurements.

CPU kernels are not CUDA's (oneDNN's reorders and scratch against cuDNN's workspaces), so the prediction
is an estimate; `fusion.bench gpu-smoke` measures the real peak on a GPU.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from fusion.config import CONF
from fusion.hardware import available_memory
from fusion.training.memory_plan import (
    CUDA_ALLOWANCE,
    GIB,
    activation_model,
    batch_per_gpu,
    largest_batch,
    peak_bytes,
    phase_key,
    phase_parameters,
    state_bytes,
)

#: The two batch sizes each stage is measured at: even, so both identities are in each.
BATCHES = (2, 4)
#: GPU memory sizes (GiB) the largest batch is given for.
GPU_SIZES_GIB = (24, 48, 80)
#: Default processes (GPUs) of a DDP run: fusion/conf/hydra/launcher/slurm.yaml's gpus_per_node.
DEFAULT_GPUS = 8
#: A stage is measured only if its largest step is expected to take at most this share of free memory.
MEMORY_SHARE = 0.5


class SavedTensorMeter:
    """Bytes of the distinct storages autograd saves for backward while active, leaving out `exclude`'s
    (the parameters: counted as weights), and counting `include`'s (the batch) once."""

    def __init__(self, exclude=(), include=()):
        self._excluded = {t.untyped_storage().data_ptr() for t in exclude}
        self.storages: dict[int, int] = {}
        for tensor in include:
            self._add(tensor)
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda tensor: tensor)

    def _add(self, tensor: torch.Tensor) -> None:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in self._excluded and storage.nbytes():
            self.storages[storage.data_ptr()] = storage.nbytes()

    def _pack(self, tensor: torch.Tensor) -> torch.Tensor:
        self._add(tensor)
        return tensor

    @property
    def bytes(self) -> int:
        """The bytes saved so far."""
        return sum(self.storages.values())

    def __enter__(self) -> "SavedTensorMeter":
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)


def allocation_peak(recorded: profile) -> tuple[int, int]:
    """(peak, final) bytes allocated and still held over a `profile_memory=True` profile, from its start."""
    events = sorted((e.start_ns(), e.nbytes()) for e in recorded.profiler.kineto_results.events()
                    if e.name() == "[memory]")
    live = peak = 0
    for _, change in events:
        live += change
        peak = max(peak, live)
    return peak, live


def bf16_on_cpu() -> bool:
    """Whether CPU autocast can run bf16 convolutions here (oneDNN with bf16); else bf16 is modelled."""
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def training_batch(size: int, resolution: int, generator: torch.Generator) -> dict:
    """Random source and template crops, an elliptic face mask (a face's share of a crop, which sets the
    blend's box) and identities alternating 0, 1, ... as the triplet sampler's random draws mix them."""
    line = torch.linspace(-1, 1, resolution)
    yy, xx = torch.meshgrid(line, line, indexing="ij")
    mask = ((xx / 0.6) ** 2 + (yy / 0.75) ** 2 < 1).float()
    return {"source": torch.rand(size, 3, resolution, resolution, generator=generator),
            "template": torch.rand(size, 3, resolution, resolution, generator=generator),
            "mask": mask.expand(size, 1, resolution, resolution).contiguous(),
            "identity": torch.arange(size) % 2}


def measure_step(module, resolution: int, batch_size: int, precision: str) -> dict:
    """One training step's memory on the CPU: the allocator's peak over forward and backward with the batch
    (`step`), the gradients it leaves, the bytes saved for backward and the batch's own, and its seconds."""
    module.net.zero_grad(set_to_none=True)
    batch = training_batch(batch_size, resolution, torch.Generator().manual_seed(resolution + batch_size))
    inputs = [batch["source"], batch["template"], batch["mask"]]
    parameters = [*module.parameters()]
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as recorded, \
            SavedTensorMeter(exclude=parameters, include=inputs) as saved:
        with torch.autocast("cpu", torch.bfloat16, enabled=precision == "bf16"):
            loss = module._step(batch)["loss"]
        loss.backward()
    seconds = time.perf_counter() - start
    peak, _ = allocation_peak(recorded)
    grads = sum(p.grad.nbytes for p in module.net.parameters() if p.grad is not None)
    if not torch.isfinite(loss):
        raise RuntimeError(f"{resolution} px, batch {batch_size}, {precision}: the loss is {loss.item()}")
    module.net.zero_grad(set_to_none=True)
    batch_bytes = sum(t.nbytes for t in inputs)
    return {"batch": batch_size, "step": peak + batch_bytes, "allocation_peak": peak, "inputs": batch_bytes,
            "grads": grads, "saved": saved.bytes, "seconds": round(seconds, 2)}


def split(at_small: float, at_large: float, small: int = BATCHES[0], large: int = BATCHES[1]) -> tuple[float, float]:
    """(fixed, per sample) of a quantity linear in the batch, from its values at two batch sizes."""
    per_sample = (at_large - at_small) / (large - small)
    return at_small - small * per_sample, per_sample


def extrapolate(points: dict[int, float], resolution: int) -> tuple[float, str]:
    """The value at `resolution` from the measured `points` {resolution: value}: the quadratic in the
    resolution through the last three (exact for any a r^2 + b r + c), else the power law through the last
    two (the per-pixel growth ratio kept), else the value times the pixel ratio; and how.

    >>> extrapolate({64: 4.0, 128: 16.0, 256: 64.0}, 1024)
    (1024.0, 'quadratic through 64, 128, 256 px')
    """
    known = sorted(points)
    if resolution in points:
        return points[resolution], "measured"
    if not known:
        raise ValueError("nothing measured to extrapolate from")
    if len(known) >= 3:
        xs = known[-3:]
        value = 0.0
        for i, xi in enumerate(xs):
            weight = 1.0
            for j, xj in enumerate(xs):
                if i != j:
                    weight *= (resolution - xj) / (xi - xj)
            value += weight * points[xi]
        return value, f"quadratic through {', '.join(map(str, xs))} px"
    if len(known) == 2:
        (r1, r2), (v1, v2) = known, (points[known[0]], points[known[1]])
        if v1 > 0 and v2 > 0:
            exponent = (torch.tensor(v2 / v1).log() / torch.tensor(r2 / r1).log()).item()
            return v2 * (resolution / r2) ** exponent, f"growth ratio of {r1} -> {r2} px kept"
    last = known[-1]
    return points[last] * (resolution / last) ** 2, f"{last} px times the pixel ratio"


def compose_config(overrides: list[str], conf: Path):
    """The training config `python train.py OVERRIDES` would run with."""
    from hydra import compose, initialize_config_dir

    from fusion.config import register_configs

    register_configs()
    with initialize_config_dir(str(conf.resolve()), version_base="1.3"):
        return compose("train", overrides=overrides)


def build_module(model: dict, plan, identities: int):
    """The FusionModule training would build for `plan` (network at its first stage, weight average included)."""
    from fusion.training.module import FusionModule

    settings = {k: v for k, v in model.items() if k not in ("_target_", "net")}
    names = [f"id{k}" for k in range(identities)]
    return FusionModule(names, {**model["net"], "resolution": plan[0].input_resolution}, **settings)


def _series_name(key: tuple[int, int, bool, bool]) -> str:
    _, input_resolution, newest_only, fade = key
    name = ("A" if newest_only else "B") + (" fade" if fade else "")
    return name + (" decoder-only" if input_resolution != key[0] else "")


def stage_activations(small: dict, large: dict) -> dict:
    """A stage's activations from its steps at the two batch sizes (`measure_step`'s): the step's and the
    saved bytes' fixed part and bytes per sample."""
    saved_fixed, saved_per_sample = split(small["saved"], large["saved"], small["batch"], large["batch"])
    # At low resolution the step's peak sits where the weights' gradients and casts are, and a small batch
    # does not move it: its slope there understates a large batch's. What is saved for backward grows
    # with every sample wherever the peak is: the slope is at least that.
    per_sample = max(split(small["step"], large["step"], small["batch"], large["batch"])[1], saved_per_sample)
    return {"step_fixed": large["step"] - large["batch"] * per_sample, "step_per_sample": per_sample,
            "saved_fixed": saved_fixed, "saved_per_sample": saved_per_sample}


def reused_measurements(raw: list[dict], plan) -> dict:
    """`measure_plan`'s activations from an earlier run's `measured` list (the same model and curriculum)."""
    keys = {phase.label: phase_key(phase) for phase in plan}
    measured: dict = {}
    for label in dict.fromkeys(m["label"] for m in raw):
        if label not in keys:
            raise ValueError(f"the reused measurements hold {label}, which this curriculum has not")
        for precision in dict.fromkeys(m["precision"] for m in raw if m["label"] == label):
            steps = sorted((m for m in raw if m["label"] == label and m["precision"] == precision),
                           key=lambda m: m["batch"])
            measured.setdefault(keys[label], {})[precision] = stage_activations(steps[0], steps[-1])
    return measured


def measure_plan(module, plan, precisions: list[str], measure_up_to: int, since: int, log) -> tuple[dict, list[dict]]:
    """Measure each distinct phase (`phase_key`) up to `measure_up_to` px whose step is expected to fit
    (and the first of each series, phase A or B, whatever its size); returns
    {key: {precision: `stage_activations`}} and the raw measurements."""
    from fusion.training.callback import enter_phase

    measured: dict = {}
    raw: list[dict] = []
    budget = MEMORY_SHARE * available_memory()
    for phase in plan:
        key = phase_key(phase)
        series = {k: v for k, v in measured.items() if _series_name(k) == _series_name(key)}
        if key in measured or (series and phase.resolution > measure_up_to):  # a series' first is always measured
            continue
        if series:  # will the largest step fit? extrapolate it from the same series
            expected = [extrapolate_stage({k[0]: v[p] for k, v in series.items()}, phase.resolution, since)[0]
                        for p in precisions]
            largest = max(e["step_fixed"] + BATCHES[-1] * e["step_per_sample"] for e in expected)
            if largest > budget:
                log(f"{phase.label}: not measured, its step would take about {largest / GIB:.1f} GiB "
                    f"(more than {MEMORY_SHARE:.0%} of this machine's free memory)")
                continue
        enter_phase(module, phase)
        if phase.fade_steps:
            module.net.alpha = 0.5
        measured[key] = {}
        for precision in precisions:
            steps = [measure_step(module, phase.resolution, size, precision) for size in BATCHES]
            for step in steps:
                raw.append({"label": phase.label, "resolution": phase.resolution, "precision": precision, **step})
                log(f"{phase.label} {precision} batch {step['batch']}: step {step['step'] / GIB:.3f} GiB, "
                    f"saved {step['saved'] / GIB:.3f} GiB ({step['seconds']} s)")
            measured[key][precision] = stage_activations(*steps)
    return measured, raw


def extrapolate_stage(points: dict[int, dict], resolution: int, since: int = 0) -> tuple[dict, str]:
    """A stage's activations ({step,saved}_{fixed,per_sample}) from its series' measured stages `points`
    {resolution: activations}: the saved bytes per sample by `extrapolate` (from the stages at `since` px
    and above where two are: the blend and its loss term start there), the step's per sample as many times
    those as at the last measured stage (its transients' share), the fixed parts as at that stage (they
    are the weights' casts and gradients, and the network's parameters barely grow at its top levels)."""
    if resolution in points:
        return dict(points[resolution]), "measured"
    usable = {r: v for r, v in points.items() if r >= since}
    usable = usable if len(usable) >= 2 else points
    saved, how = extrapolate({r: v["saved_per_sample"] for r, v in usable.items()}, resolution)
    last = points[max(usable)]
    share = last["step_per_sample"] / last["saved_per_sample"]
    return ({"saved_per_sample": saved, "step_per_sample": saved * share, "saved_fixed": last["saved_fixed"],
             "step_fixed": last["step_fixed"]},
            f"saved bytes per sample: {how}; step per sample {share:.3f} x saved and fixed part as at {max(usable)} px")


def activation_table(plan, measured: dict, precisions: list[str], since: int = 0) -> tuple[dict, list[dict]]:
    """Activations of every distinct phase: measured, or extrapolated along its series (`extrapolate_stage`);
    and the checks of the extrapolation at each measured stage with three measured below it."""
    table, checks = {}, []
    for phase in plan:
        key = phase_key(phase)
        if key in table:
            continue
        series = {k: v for k, v in measured.items() if _series_name(k) == _series_name(key)}
        table[key] = {}
        for precision in precisions:
            points = {k[0]: v[precision] for k, v in series.items()}
            entry, how = extrapolate_stage(points, phase.resolution, since)
            below = {r: v for r, v in points.items() if r < phase.resolution}
            if how == "measured" and len([r for r in below if r >= since]) >= 3:
                guess, method = extrapolate_stage(below, phase.resolution, since)
                for quantity in ("step_per_sample", "saved_per_sample"):
                    checks.append({"phase": _series_name(key), "resolution": phase.resolution, "precision": precision,
                                   "quantity": quantity, "measured": round(entry[quantity]),
                                   "extrapolated": round(guess[quantity]),
                                   "error": round(guess[quantity] / entry[quantity] - 1, 3), "method": method})
            entry["source"] = how
            table[key][precision] = entry
    return table, checks


def modelled_bf16(table: dict) -> None:
    """bf16 as half of fp32's activations, where the CPU cannot run bf16 autocast."""
    for entry in table.values():
        entry["bf16"] = {k: (v / 2 if isinstance(v, float | int) else v) for k, v in entry["fp32"].items()}
        entry["bf16"]["source"] = f"modelled as half of fp32 ({entry['fp32']['source']})"


def phase_rows(plan, counts: list[dict], table: dict, world: int, precisions: list[str]) -> list[dict]:
    """One row per phase: counts, state bytes, activations, predicted peaks and largest batches."""
    rows = []
    for phase, count in zip(plan, counts):
        state = state_bytes(count, world)
        batch = batch_per_gpu(phase, world)
        row = {"label": phase.label, "resolution": phase.resolution, "input_resolution": phase.input_resolution,
               "trains": "newest level" if phase.newest_only else "all", "fade_in": bool(phase.fade_steps),
               "batch_size": phase.batch_size, "batch_per_gpu": batch, "batch_divides": phase.batch_size % world == 0,
               **count, "state_gib": {k: round(v / GIB, 3) for k, v in state.items()},
               "activations": {}, "peak_gib": {}, "max_batch_per_gpu": {}}
        for precision in precisions:
            entry = table[phase_key(phase)][precision]
            fixed, per_sample = entry["step_fixed"], entry["step_per_sample"]
            row["activations"][precision] = {
                "source": entry["source"],
                "per_sample_gib": round(per_sample / GIB, 4), "step_fixed_gib": round(fixed / GIB, 4),
                "saved_per_sample_gib": round(entry["saved_per_sample"] / GIB, 4),
                "step_at_batch_gib": round((fixed + batch * per_sample) / GIB, 3)}
            row["peak_gib"][precision] = round(peak_bytes(state, fixed, per_sample, batch) / GIB, 2)
            row["max_batch_per_gpu"][precision] = {f"{size}GiB": largest_batch(state, fixed, per_sample, size * GIB)
                                                   for size in GPU_SIZES_GIB}
        rows.append(row)
    return rows


def print_table(rows: list[dict], precisions: list[str], world: int) -> None:
    """The rows as a human table on stderr."""
    head = (f"{'phase':<16}{'px':>5}{'batch/gpu':>10}{'params M':>10}{'train M':>9}{'opt+grad+ema GiB':>18}"
            + "".join(f"{'act/sample ' + p:>18}{'peak ' + p:>11}{'max ' + p + ' 24/48/80':>20}" for p in precisions))
    print(f"predicted peak GPU memory per process, {world} processes (GiB = 2^30 bytes)", file=sys.stderr)
    print(head, file=sys.stderr)
    for row in rows:
        state = row["state_gib"]
        line = (f"{row['label']:<16}{row['resolution']:>5}{row['batch_per_gpu']:>10}{row['parameters'] / 1e6:>10.2f}"
                f"{row['trainable_parameters'] / 1e6:>9.2f}"
                f"{state['adam'] + state['grads'] + state['ema'] + state['ddp_buckets']:>18.2f}")
        for p in precisions:
            act = row["activations"][p]
            mark = "m" if act["source"] == "measured" else "x"
            fits = "/".join(str(n) for n in row["max_batch_per_gpu"][p].values())
            line += f"{act['per_sample_gib']:>16.3f} {mark}{row['peak_gib'][p]:>11.2f}{fits:>20}"
        print(line, file=sys.stderr)
    print("m: measured on this CPU, x: extrapolated", file=sys.stderr)


def measurements(args: argparse.Namespace, parser: argparse.ArgumentParser, model: dict, plan: list,
                 emulated: bool, log) -> tuple[dict, list, list[str]]:
    """(measurements by phase, their raw JSON, the precisions measured): taken on this CPU, or read back
    from `--reuse`. Where bf16 is `emulated` (no CPU autocast), only fp32 is measured."""
    measured_precisions = ["fp32"] if emulated else list(args.precisions)
    if not args.reuse:
        module = build_module(model, plan, args.identities)
        since = model.get("blend_min_resolution") or 0
        measured, raw = measure_plan(module, plan, measured_precisions, args.measure_up_to, since, log)
        return measured, raw, measured_precisions
    raw = json.loads(args.reuse.read_text())["measured"]
    measured = reused_measurements(raw, plan)
    measured_precisions = [p for p in measured_precisions if all(p in v for v in measured.values())]
    if not measured_precisions:
        parser.error(f"{args.reuse} holds no measurement in {args.precisions}")
    if emulated and "fp32" not in measured_precisions:
        parser.error(f"{args.reuse} holds no fp32 measurement to model bf16 from")
    return measured, raw, measured_precisions


def write_table(args: argparse.Namespace, model: dict, table: dict, machine: dict) -> None:
    """Write the activations per phase that training's memory check reads to `--table`."""
    activations = []
    for (resolution, input_resolution, newest_only, fade), entry in table.items():
        activations.append({"resolution": resolution, "input_resolution": input_resolution,
                            "newest_only": newest_only, "fade": fade,
                            **{p: {"fixed": round(e["step_fixed"]), "per_sample": round(e["step_per_sample"]),
                                   "source": e["source"]} for p, e in entry.items()}})
    args.table.write_text(json.dumps({
        "written_by": "python -m fusion.bench memory " + " ".join(args.overrides) + f" --table {args.table}",
        "model": activation_model(model), "identities": args.identities, "machine": machine,
        "activations": activations}, indent=2) + "\n")


def report(args: argparse.Namespace, emulated: bool, raw: list, checks: list, rows: list, seconds: float) -> dict:
    """The bench's JSON: what was sized, on which machine, the measurements and every phase's rows."""
    from fusion.hardware import cpu_report

    return {
        "benchmark": "memory",
        "overrides": args.overrides,
        "gpus": args.gpus,
        "identities": args.identities,
        "allowance_gib": round(CUDA_ALLOWANCE / GIB, 2),
        "bf16": "modelled as half of fp32: this CPU has no bf16 autocast" if emulated else "measured under CPU autocast",
        "activations": "per_sample: the slope in the batch of the step's CPU allocator peak over forward + "
                       "backward with the batch; step_fixed: its batch-independent part (weight casts, the "
                       "gradients made by the peak); saved_per_sample: what autograd saves for backward",
        "machine": {**cpu_report(), "torch": torch.__version__, "threads": torch.get_num_threads()},
        "batches_measured": list(BATCHES),
        "measured": raw,
        "extrapolation_checks": checks,
        "phases": rows,
        "seconds": round(seconds, 1),
    }


def main(argv: list[str]) -> dict:
    """Size every phase of the configured curriculum (see the module docstring); return the JSON."""
    parser = argparse.ArgumentParser(prog="python -m fusion.bench memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("overrides", nargs="*", help="train.py's overrides, e.g. experiment=paper")
    parser.add_argument("--gpus", type=int, default=DEFAULT_GPUS, help="DDP processes the global batch splits over")
    parser.add_argument("--identities", type=int, default=2, help="identities (decoders) of the network")
    parser.add_argument("--measure-up-to", type=int, default=1024,
                        help="largest stage (px) measured (where its step fits half the free memory); above: extrapolated")
    parser.add_argument("--precisions", nargs="+", choices=["bf16", "fp32"], default=["bf16", "fp32"])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--reuse", type=Path, metavar="JSON", help="an earlier run's JSON (same overrides): its "
                        "measurements instead of new ones, e.g. to size another --gpus")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--table", type=Path, help="write the activations training's memory check reads here "
                                                   "(fusion/training/memory_table.json)")
    parser.add_argument("--conf", type=Path, default=CONF, help="the config folder (fusion's own conf/)")
    parser.add_argument("--quiet", action="store_true", help="no progress and no table on stderr")
    args = parser.parse_args(argv)
    if args.gpus < 1 or args.identities < 1:
        parser.error("--gpus and --identities must be at least 1")
    torch.set_num_threads(args.threads)
    from omegaconf import OmegaConf

    from fusion.training.schedule import phases

    def log(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    cfg = compose_config(args.overrides, args.conf)
    model = OmegaConf.to_container(cfg.model, resolve=True)
    plan = phases(OmegaConf.to_object(cfg.curriculum))
    emulated = "bf16" in args.precisions and not bf16_on_cpu()
    since = model.get("blend_min_resolution") or 0
    measured, raw, measured_precisions = measurements(args, parser, model, plan, emulated, log)
    table, checks = activation_table(plan, measured, measured_precisions, since)
    if emulated:
        modelled_bf16(table)
    precisions = [p for p in args.precisions if all(p in entry for entry in table.values())]
    counts = phase_parameters(model["net"], plan, args.identities, bool(model.get("ema_decay", 0.999)))
    rows = phase_rows(plan, counts, table, args.gpus, precisions)
    if not args.quiet:
        print_table(rows, precisions, args.gpus)
    result = report(args, emulated, raw, checks, rows, time.perf_counter() - started)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    if args.table:
        write_table(args, model, table, result["machine"])
    return result

