"""Training-step throughput of FusionNet per stage resolution, against a reference measured in the same run.

``python -m fusion.bench train-step [--resolutions 16 32 ...] [--precisions fp32 bf16] [--reference conv] ...``

Each stage builds the network at full design width (``--width-multiplier
1``: 512 channels up to 32 px, then halving) by growing from 16 px, two
identities and a mixed batch (rows alternate between them, so the identity
routing is exercised). Batch sizes (``STAGE_BATCH``) keep each step near one
TFLOP with at least two rows per identity, so one step takes seconds, not
minutes, on a 2-core CPU.

``--step full`` (default) is the real training step of
``fusion.training.module.FusionModule``: decode, the multi-band blends of
prediction and target, the masked SSIM + L1 loss on blended and raw faces,
backward and the module's Adam; its ``blend_share`` is the fraction of the step spent in
the blends' forward passes. ``--step l1`` is the network alone with an L1 loss and a fused
Adam (as the side-by-side harness runs it). FLOPs
are counted with ``FlopCounterMode`` over one whole step, as executed (conv
forward and backward; the first layer computes no input gradient).

Every timed step is followed by the reference, run under the same load, and each step's GFLOP/s is
divided by the reference's right after it. ``--reference conv`` (default): a 3x3 conv of the stage's output
width at its resolution and batch, forward and backward (input and weight gradients), in the step's
precision and memory format: what the network's own convolutions can reach on this machine.
``--reference matmul``: about a second of 2048x2048 matmuls (MKL's sgemm, or bf16): a library figure,
not a hardware bound (oneDNN's convolutions can beat it). ``--profile`` adds where one step's time goes
(conv forward and backward, blend, loss, optimizer, the rest) from the torch profiler, and the
Lightning Trainer's overhead per step over the bare step.
"""

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.profiler import record_function
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from fusion.model.fusion_net import FusionConfig, FusionNet
from fusion.model.widths import resolution_level
from fusion.stopwatch import Stopwatch

STAGE_BATCH = {16: 32, 32: 8, 64: 8, 128: 4, 256: 4}
"""Default batch size per stage resolution, at width multiplier 1."""

Step = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], None]


def _autocast(precision: str):
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")


def label_forward(module: nn.Module, name: str) -> None:
    """Mark every forward pass of `module` as the region `name` in the profiler's record."""
    regions = []
    module.register_forward_pre_hook(lambda *_: regions.append(record_function(name).__enter__()))
    module.register_forward_hook(lambda *_: regions.pop().__exit__(None, None, None))


def l1_step(net: FusionNet, precision: str) -> Step:
    """Forward, L1 loss, backward and a fused Adam update; bf16 runs the network under autocast."""
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4, fused=True)

    def step(x: torch.Tensor, identity: torch.Tensor, target: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        with record_function("forward"), _autocast(precision):
            prediction = net(x, identity)
            with record_function("loss"):
                loss = F.l1_loss(prediction.float(), target)
        with record_function("backward"):
            loss.backward()
        with record_function("optimizer"):
            optimizer.step()

    return step


def triplet_batch(x: torch.Tensor, identity: torch.Tensor, target: torch.Tensor) -> dict:
    """A training batch of the module's shape from random tensors: sources, templates and an elliptic face mask."""
    size = x.shape[-1]
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    mask = ((xx / 0.6) ** 2 + (yy / 0.75) ** 2 < 1).float().expand(x.shape[0], 1, size, size)
    return {"source": x.sigmoid(), "template": target.sigmoid(), "mask": mask, "identity": identity}


def training_module(net: FusionNet, watch: Stopwatch):
    """A FusionModule around `net` (no weight average, as the step alone), its blends timed by `watch` and
    marked `blend`, its loss marked `loss`."""
    from fusion.training.module import FusionModule

    module = FusionModule(["a", "b"], {"width_multiplier": net.config.width_multiplier}, blend={"match_contrast": False},
                          ema_decay=None)
    module.net = net
    module.lr = 1e-4
    blend = module.blend

    def timed_blend(*args):
        with watch("blend"), record_function("blend"):
            return blend(*args)

    module.blend = timed_blend
    label_forward(module.loss, "loss")
    return module


def full_step(module, precision: str) -> Step:
    """The training module's step (blended and raw loss), backward and the module's own optimizer."""
    optimizer = module.configure_optimizers()

    def step(x: torch.Tensor, identity: torch.Tensor, target: torch.Tensor) -> None:
        batch = triplet_batch(x, identity, target)
        optimizer.zero_grad(set_to_none=True)
        with record_function("forward"), _autocast(precision):
            loss = module._step(batch)["loss"]
        with record_function("backward"):
            loss.backward()
        with record_function("optimizer"):
            optimizer.step()

    return step


def matmul_gflops(dtype: torch.dtype = torch.float32, n: int = 2048, seconds: float = 1.0) -> float:
    """GFLOP/s of back-to-back n x n matmuls over about ``seconds`` (long enough to see the same load as a step)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        a @ b
        count += 1
    return 2 * n**3 * count / elapsed / 1e9


class ConvProbe:
    """A 3x3 conv, `width` -> `width` channels, forward and backward (input and weight gradients) on
    (batch, width, resolution, resolution): the reference for a network made of such convolutions."""

    def __init__(self, width: int, resolution: int, batch: int, precision: str, memory_format: torch.memory_format):
        self.shape, self.precision = (batch, width, resolution, resolution), precision
        self.conv = nn.Conv2d(width, width, 3, padding=1).to(memory_format=memory_format)
        self.x = torch.randn(self.shape).contiguous(memory_format=memory_format).requires_grad_()
        with FlopCounterMode(display=False) as counter:
            self._run()
        self.flops = counter.get_total_flops()
        self._run()  # warm-up

    def _run(self) -> None:
        self.conv.zero_grad(set_to_none=True)
        self.x.grad = None
        with _autocast(self.precision):
            out = self.conv(self.x)
        out.float().sum().backward()

    def gflops(self) -> float:
        """GFLOP/s of one forward and backward."""
        start = time.perf_counter()
        self._run()
        return self.flops / (time.perf_counter() - start) / 1e9


def _inside(event, names: set[str]) -> bool:
    parent = event.cpu_parent
    while parent is not None:
        if parent.name in names:
            return True
        parent = parent.cpu_parent
    return False


def profile_step(step: Step, *args: torch.Tensor) -> dict:
    """Where one step's time goes, from the torch profiler: the network's conv forward and backward (the
    blend's and loss's own convolutions counted with them), blend and loss forward, the rest of forward and
    backward, and the optimizer; seconds (with the profiler's overhead) and shares."""
    with profile(activities=[ProfilerActivity.CPU]) as recorded:
        step(*args)
    events = recorded.events()
    top = {name: sum(e.cpu_time_total for e in events if e.name == name) / 1e6
           for name in ("forward", "backward", "optimizer", "blend", "loss")}
    helpers = {"blend", "loss"}
    conv_forward = [e for e in events if e.name == "aten::convolution" and not _inside(e, helpers)]
    network_sequence = {e.sequence_nr for e in conv_forward}
    conv_backward = [e for e in events if e.name.startswith("autograd::engine::evaluate_function: Convolution")
                     and e.sequence_nr in network_sequence]
    parts = {
        "conv_forward": sum(e.cpu_time_total for e in conv_forward) / 1e6,
        "blend_forward": top["blend"],
        "loss_forward": top["loss"],
        "conv_backward": sum(e.cpu_time_total for e in conv_backward) / 1e6,
        "optimizer": top["optimizer"],
    }
    parts["forward_other"] = top["forward"] - parts["conv_forward"] - top["blend"] - top["loss"]
    parts["backward_other"] = top["backward"] - parts["conv_backward"]
    total = top["forward"] + top["backward"] + top["optimizer"]
    return {"step_s_profiled": round(total, 3), "seconds": {k: round(v, 4) for k, v in parts.items()},
            "share": {k: round(v / total, 3) for k, v in parts.items()}}


def lightning_overhead(module, step: Step, x: torch.Tensor, identity: torch.Tensor, target: torch.Tensor,
                       precision: str, steps: int) -> dict:
    """Median seconds per step of `steps` bare steps back to back, then of `module` fitted by a Lightning
    Trainer on the same repeated batch (its first step left out), and the difference: what the Trainer adds
    (hooks, logging, the loader) to each step."""
    import lightning as L
    from torch.utils.data import DataLoader

    class StepClock(L.Callback):
        def __init__(self):
            self.times: list[float] = []

        def on_train_batch_start(self, *_) -> None:
            self.times.append(time.perf_counter())

        def on_train_end(self, *_) -> None:
            self.times.append(time.perf_counter())

    bare = []
    for _ in range(steps):
        start = time.perf_counter()
        step(x, identity, target)
        bare.append(time.perf_counter() - start)
    clock = StepClock()
    trainer = L.Trainer(accelerator="cpu", devices=1, max_steps=steps + 1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0, callbacks=[clock],
                        precision="bf16-mixed" if precision == "bf16" else "32-true")
    batch = triplet_batch(x, identity, target)
    trainer.fit(module, train_dataloaders=DataLoader([batch] * (steps + 1), batch_size=None))
    fitted = statistics.median(b - a for a, b in zip(clock.times[1:], clock.times[2:]))
    return {"bare_step_s": round(statistics.median(bare), 4), "lightning_step_s": round(fitted, 4),
            "overhead_s_per_step": round(fitted - statistics.median(bare), 4)}


def stage_batch(resolution: int, batch: int, memory_format: torch.memory_format) -> tuple[torch.Tensor, ...]:
    """(x, identity, target): a seeded random batch at `resolution`, rows alternating between the two
    identities, so the identity routing is exercised."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, resolution, resolution, generator=generator).contiguous(memory_format=memory_format)
    target = torch.randn(x.shape, generator=generator).contiguous(memory_format=memory_format)
    return x, torch.arange(batch) % 2, target


def stage_reference(kind: str, width: int, resolution: int, batch: int, precision: str,
                    memory_format: torch.memory_format) -> tuple[ConvProbe | None, Callable[[], float]]:
    """What each timed step is divided by: (the conv probe, None for `matmul`; what measures its GFLOP/s)."""
    if kind == "conv":
        probe = ConvProbe(width, resolution, batch, precision, memory_format)
        return probe, probe.gflops
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    return None, lambda: matmul_gflops(dtype)


def time_steps(step: Step, inputs: tuple[torch.Tensor, ...], repeats: int, measure_reference: Callable[[], float],
               watch: Stopwatch) -> tuple[int, list[float], list[float]]:
    """(FLOPs of one step, seconds of each of `repeats` timed steps, the reference's GFLOP/s measured right
    after each). Two untimed steps come first: the FLOP count, which is also oneDNN's warm-up, and one more;
    `watch` then starts from zero."""
    with FlopCounterMode(display=False) as counter:
        step(*inputs)  # also the warm-up: oneDNN builds its kernels here
    flops = counter.get_total_flops()
    step(*inputs)
    watch.seconds.clear()
    seconds, references = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        step(*inputs)
        seconds.append(time.perf_counter() - start)
        references.append(measure_reference())
    return flops, seconds, references


def run_stage(
    resolution: int,
    batch: int,
    *,
    precision: str = "fp32",
    width_multiplier: float = 1.0,
    channels_last: bool = True,
    repeats: int = 3,
    step_kind: str = "full",
    reference: str = "conv",
    profile_it: bool = False,
) -> dict:
    """Time ``repeats`` training steps of the network grown to ``resolution``, each followed by the reference."""
    if resolution < 16:
        raise ValueError(f"stage resolutions start at 16 px (the first per-identity level), got {resolution}")
    config = FusionConfig(identities=2, resolution=16, width_multiplier=width_multiplier)
    net = FusionNet.build(config, ["full"] * (resolution_level(resolution) - resolution_level(16)))
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(memory_format=memory_format)
    x, identity, target = stage_batch(resolution, batch, memory_format)
    watch = Stopwatch()
    module = training_module(net, watch) if step_kind == "full" else None
    step = full_step(module, precision) if module is not None else l1_step(net, precision)
    width = config.width(resolution_level(resolution))
    probe, measure_reference = stage_reference(reference, width, resolution, batch, precision, memory_format)
    flops, seconds, references = time_steps(step, (x, identity, target), repeats, measure_reference, watch)

    best, median = min(seconds), statistics.median(seconds)
    # Each step is paired with the reference right after it, which ran under about the same load.
    fractions = [flops / step_s / 1e9 / ref for step_s, ref in zip(seconds, references)]
    result = {
        "resolution": resolution,
        "batch": batch,
        "precision": precision,
        "channels_last": channels_last,
        "width_multiplier": width_multiplier,
        "gflop_per_step": round(flops / 1e9, 1),
        "step_s_best": round(best, 3),
        "step_s_median": round(median, 3),
        "images_per_s": round(batch / best, 2),
        "images_per_s_median": round(batch / median, 2),
        "gflops": round(flops / best / 1e9, 1),
        "gflops_median": round(flops / median / 1e9, 1),
        "step": step_kind,
        "reference": ({"op": "Conv2d 3x3 fwd+bwd", "input": list(probe.shape)} if probe else
                      {"op": "2048x2048 matmul"}) | {"gflops_median": round(statistics.median(references), 1)},
        "fraction_of_reference": round(statistics.median(fractions), 3),
        "fraction_of_reference_best": round(max(fractions), 3),
    }
    if module is not None:
        result["blend_share"] = round(watch.seconds["blend"] / sum(seconds), 3)
    if profile_it:
        result["profile"] = profile_step(step, x, identity, target)
        if module is not None:
            result["lightning"] = lightning_overhead(module, step, x, identity, target, precision, repeats)
    return result


def main(argv: list[str]) -> dict:
    """Time the training step at each resolution and precision asked for; return images/s per stage and
    the share of the reference, to size curricula and compare fp32 with bf16.
    """
    parser = argparse.ArgumentParser(prog="python -m fusion.bench train-step", description=__doc__.split("\n\n")[0])
    parser.add_argument("--resolutions", type=int, nargs="+", default=list(STAGE_BATCH))
    parser.add_argument("--precisions", nargs="+", choices=["fp32", "bf16"], default=["fp32", "bf16"])
    parser.add_argument("--batch", type=int, help="one batch size for all stages (default: STAGE_BATCH)")
    parser.add_argument("--width-multiplier", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--no-channels-last", dest="channels_last", action="store_false")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--step", choices=["full", "l1"], default="full")
    parser.add_argument("--reference", choices=["conv", "matmul"], default="conv")
    parser.add_argument("--profile", action="store_true", help="also break one step down, and time the Lightning loop")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from fusion.hardware import cpu_report

    stages = [
        run_stage(
            resolution,
            args.batch or STAGE_BATCH.get(resolution, 4),
            precision=precision,
            width_multiplier=args.width_multiplier,
            channels_last=args.channels_last,
            repeats=args.repeats,
            step_kind=args.step,
            reference=args.reference,
            profile_it=args.profile,
        )
        for resolution in args.resolutions
        for precision in args.precisions
    ]
    return {
        "benchmark": "train-step",
        "step": {"full": "FusionModule step: decode, blends, masked SSIM + L1 (blended and raw), backward, Adam",
                 "l1": "FusionNet forward + L1 + backward + fused Adam"}[args.step] + "; 2 identities, mixed batch",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": cpu_report(),
        "stages": stages,
    }
