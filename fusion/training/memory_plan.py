"""Predicted peak GPU memory of each curriculum phase, and a warning before a run that will not fit.

What one DDP process holds in a phase: the network's weights (fp32, also under bf16 autocast: those are
the master weights), the weight average (`ema_decay`), Adam's two moments of the parameters that train in
the phase, and under DDP (more than one process) a gradient-sized copy in its buckets
(`gradient_as_bucket_view` is off). On top, the larger of what one training step allocates at the phase's
batch per GPU (its activations, with the gradients backward has made by its peak) and, after backward,
all gradients with Adam's update temporaries (one more trainable-sized buffer). `CUDA_ALLOWANCE` is added
for what no tensor holds.

Parameters and optimizer state are counted exactly, from the network grown through the plan. A step's
allocation comes from `memory_table.json` beside this module: measured on a CPU, and extrapolated above
what was measured, by `python -m fusion.bench memory ... --table` (fusion/bench/memory.py says how), for
the model preset it names; a model that differs from it (widths, blend, loss) gets no prediction, and
training says so and goes on.
"""

import json
import logging
import math
from pathlib import Path

import torch

from fusion.model.fusion_net import FusionConfig, FusionNet
from fusion.training.schedule import Curriculum, Phase, Stage, phases

log = logging.getLogger(__name__)

GIB = 2**30
#: What the GPU holds besides tensors: the CUDA context with torch's kernels loaded (about 0.5 GiB),
#: cuDNN and cuBLAS workspaces, NCCL's buffers under DDP, and the caching allocator's rounding.
CUDA_ALLOWANCE = int(1.5 * GIB)
#: Bytes per parameter of the weights, the average, gradients and each of Adam's moments: all fp32.
FP32 = 4
TABLE = Path(__file__).with_name("memory_table.json")
#: The model settings that change a training step's activations: what a table's measurement is valid for.
ACTIVATION_SETTINGS = ("blend", "loss", "blend_min_resolution")
#: Network settings that change no shape (a table measured with one seed holds for every seed).
SHAPELESS_NET_SETTINGS = ("seed",)


def precision_kind(precision: str) -> str:
    """`bf16` for a mixed or half precision (Lightning's `bf16-mixed`, `16-mixed`, ours `bf16`), else `fp32`.

    >>> precision_kind("bf16-mixed"), precision_kind("32-true"), precision_kind("fp32")
    ('bf16', 'fp32', 'fp32')
    """
    precision = str(precision)
    return "bf16" if "16" in precision and "32" not in precision else "fp32"


def phase_key(phase: Phase) -> tuple[int, int, bool, bool]:
    """What a step's activations depend on besides the batch: output and input size, whether only the
    newest level trains, and whether the new level fades in (the old path runs beside it)."""
    return phase.resolution, phase.input_resolution, phase.newest_only, bool(phase.fade_steps)


def phase_parameters(net: dict, plan: list[Phase], identities: int, ema: bool) -> list[dict]:
    """Per phase: the network's parameters, those of its weight average and those that train, counted on
    the network built from `net` (the model's `net` settings) and grown through `plan`."""
    model = FusionNet(FusionConfig(identities=identities, **{**net, "resolution": plan[0].input_resolution}))
    rows = []
    for phase in plan:
        for kind in phase.growth[model.depth:]:
            model.grow(kind)
        total = sum(p.numel() for p in model.parameters())
        trainable = sum(p.numel() for p in model.newest_parameters()) if phase.newest_only else total
        rows.append({"parameters": total, "ema_parameters": total if ema else 0, "trainable_parameters": trainable})
    return rows


def state_bytes(counts: dict, world: int) -> dict[str, int]:
    """The bytes a phase holds whatever the batch (see the module docstring), from `phase_parameters`'s counts."""
    trainable = counts["trainable_parameters"]
    return {
        "weights": FP32 * counts["parameters"],
        "ema": FP32 * counts["ema_parameters"],
        "grads": FP32 * trainable,
        "adam": 2 * FP32 * trainable,
        "ddp_buckets": FP32 * trainable if world > 1 else 0,
        "adam_update": FP32 * trainable,
    }


def peak_bytes(state: dict[str, int], fixed: float, per_sample: float, batch: int,
               allowance: int = CUDA_ALLOWANCE) -> int:
    """Predicted peak of one process: what it holds throughout, the larger of the training step's
    allocation at `batch` (`fixed + batch * per_sample`: activations, and the gradients made by the step's
    peak) and the optimizer step's (every gradient and Adam's update temporaries), and the allowance."""
    held = state["weights"] + state["ema"] + state["adam"] + state["ddp_buckets"]
    return int(held + max(fixed + batch * per_sample, state["grads"] + state["adam_update"]) + allowance)


def largest_batch(state: dict[str, int], fixed: float, per_sample: float, capacity: int,
                  allowance: int = CUDA_ALLOWANCE) -> int:
    """The largest batch per GPU whose `peak_bytes` fits `capacity` bytes; 0 where not even one does."""
    if peak_bytes(state, fixed, per_sample, 1, allowance) > capacity:
        return 0
    if per_sample <= 0:
        raise ValueError("a step's activations must grow with its batch")
    held = state["weights"] + state["ema"] + state["adam"] + state["ddp_buckets"]
    batch = math.floor((capacity - allowance - held - fixed) / per_sample)  # where the step outgrows the update
    while batch > 1 and peak_bytes(state, fixed, per_sample, batch, allowance) > capacity:  # float rounding
        batch -= 1
    return max(batch, 1)


def batch_per_gpu(phase: Phase, world: int) -> int:
    """The phase's batch on each of `world` processes; rounded up where it does not divide (which
    `check_world_size` refuses)."""
    return -(-phase.batch_size // world)


def _plain(node) -> dict:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else dict(node)


def _curriculum(node) -> Curriculum:
    from omegaconf import OmegaConf

    node = OmegaConf.to_object(node) if OmegaConf.is_config(node) else node
    if isinstance(node, Curriculum):
        return node
    finetune = node.get("finetune")
    return Curriculum([Stage(**s) for s in node["stages"]], Stage(**finetune) if finetune else None)


def activation_model(model: dict) -> dict:
    """The part of a model's settings (`cfg.model`) that a table's activations are valid for."""
    net = {k: v for k, v in model.get("net", {}).items() if k not in SHAPELESS_NET_SETTINGS}
    return {"net": net, **{k: model.get(k) for k in ACTIVATION_SETTINGS}}


def load_table(path: Path = TABLE) -> dict | None:
    """The activation table `fusion.bench memory --table` wrote, or None where there is none."""
    return json.loads(path.read_text()) if path.is_file() else None


def table_activations(table: dict, key: tuple[int, int, bool, bool], precision: str) -> dict | None:
    """The table's step allocation ({fixed, per_sample} bytes) of a phase with `phase_key` `key` in `precision`."""
    for row in table["activations"]:
        if (row["resolution"], row["input_resolution"], row["newest_only"], row["fade"]) == key:
            return row.get(precision)
    return None


def predict_peak_memory(cfg, world: int, identities: int = 2, precision: str | None = None,
                        table: dict | None = None) -> list[dict] | None:
    """Per phase of `cfg`'s curriculum: the batch per GPU over `world` processes, the bytes it holds, and
    its predicted peak GPU memory; None where the activation table is not for `cfg.model` (or missing).

    `cfg` is the training config (`model`, `curriculum`, `trainer`); `precision` is the Trainer's (Lightning's
    `bf16-mixed`, `32-true`, ... or ours), by default `cfg.trainer.precision` resolved for a GPU.
    """
    table = load_table() if table is None else table
    model = _plain(cfg.model)
    if table is None or activation_model(model) != activation_model(table["model"]):
        return None
    if precision is None:
        from fusion.hardware import trainer_precision

        precision = trainer_precision(str(cfg.trainer.get("precision", "auto")), "gpu")
    kind = precision_kind(precision)
    plan = phases(_curriculum(cfg.curriculum))
    counts = phase_parameters(model["net"], plan, identities, bool(model.get("ema_decay", 0.999)))
    rows = []
    for phase, count in zip(plan, counts):
        activations = table_activations(table, phase_key(phase), kind)
        if activations is None:
            return None
        state = state_bytes(count, world)
        batch = batch_per_gpu(phase, world)
        rows.append({"label": phase.label, "resolution": phase.resolution, "batch_per_gpu": batch, **count,
                     "state_bytes": state, "step_bytes": int(activations["fixed"] + batch * activations["per_sample"]),
                     "precision": kind,
                     "peak_bytes": peak_bytes(state, activations["fixed"], activations["per_sample"], batch),
                     "fixed": activations["fixed"], "per_sample": activations["per_sample"]})
    return rows


def warn_if_out_of_memory(cfg, world: int, precision: str | None = None, identities: int = 2) -> list[str]:
    """Log a warning for every phase whose predicted peak exceeds this GPU's memory, with the largest batch
    per GPU that fits; return the warnings. Silent without a CUDA GPU, on every DDP process but the first,
    or where nothing can be predicted (logged at info). Training goes on either way: it is an estimate.
    """
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    if not torch.cuda.is_available() or str(cfg.trainer.get("accelerator", "auto")) not in ("gpu", "cuda", "auto"):
        return []
    if getattr(rank_zero_only, "rank", 0):
        return []
    capacity = torch.cuda.get_device_properties(0).total_memory
    rows = predict_peak_memory(cfg, world, identities, precision)
    if rows is None:
        log.info("no GPU memory prediction: %s holds no activations measured for this model "
                 "(python -m fusion.bench memory <overrides> --table %s measures them)", TABLE.name, TABLE)
        return []
    warnings = []
    for row in rows:
        if row["peak_bytes"] <= capacity:
            continue
        fits = largest_batch(row["state_bytes"], row["fixed"], row["per_sample"], capacity)
        warnings.append(f"{row['label']} ({row['resolution']} px, batch {row['batch_per_gpu']} per GPU, {row['precision']}): "
                        f"predicted peak {row['peak_bytes'] / GIB:.1f} GiB, this GPU has {capacity / GIB:.1f} GiB; "
                        + (f"at most {fits} per GPU fits" if fits else "not even 1 per GPU fits"))
    if warnings:
        log.warning("this run is predicted to run out of GPU memory (%d processes); use more GPUs or smaller "
                    "batches for:\n  %s", world, "\n  ".join(warnings))
    return warnings
