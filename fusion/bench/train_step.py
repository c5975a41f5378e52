"""Training-step throughput of FusionNet per stage resolution, against matmul peak.

``python -m fusion.bench train-step [--resolutions 16 32 ...] [--precisions fp32 bf16] ...``

Each stage builds the network at full design width (``--width-multiplier
1``: 512 channels up to 32 px, then halving) by growing from 16 px, two
identities and a mixed batch (rows alternate between them, so the identity
routing is exercised). Batch sizes (``STAGE_BATCH``) keep each step near one
TFLOP with at least two rows per identity, so one step takes seconds, not
minutes, on a 2-core CPU.

``--step full`` (default) is the real training step of
``fusion.training.module.FusionModule``: decode, the multi-band blends of
prediction and target, the masked SSIM + L1 loss on blended and raw faces,
backward and Adam; its ``blend_share`` is the fraction of the step spent in
the blends' forward passes (their backward runs inside the loss's backward
and is not separated; it costs about twice the forward). ``--step l1`` is the network alone with an L1 loss. FLOPs
are counted with ``FlopCounterMode`` over one whole step, as executed (conv
forward and backward; the first layer computes no input gradient).

The machine is shared, so timings are noisy: every timed step is followed by
about a second of 2048x2048 matmuls (fp32, and bf16 for bf16 steps); each
step's fraction of peak is taken against the matmuls right after it, and the
median (``fraction_of_fp32_peak``) and best of these are reported.

The fp32 "peak" is what ``torch.matmul`` (MKL) reaches, not the hardware's.
On the AMD EPYC this was written on, MKL reports no AVX-512 code path
(MKL_VERBOSE) and its sgemm gives ~175 GFLOP/s, while the convolutions run
oneDNN's avx512_core kernels (ONEDNN_VERBOSE) and go faster, so fractions
above 1 are real there, not a counting error. With other processes busy,
``--threads 1`` can beat two threads: an OpenMP team stalls whenever one of
its threads is descheduled.
"""

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from fusion.model import FusionConfig, FusionNet, resolution_level
from fusion.stopwatch import Stopwatch

STAGE_BATCH = {16: 32, 32: 8, 64: 8, 128: 4, 256: 4}
"""Default batch size per stage resolution, at width multiplier 1."""

Step = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], None]


def l1_step(net: FusionNet, precision: str) -> Step:
    """Forward, L1 loss, backward and an Adam update; bf16 runs the network under autocast."""
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4, fused=True)

    def step(x: torch.Tensor, identity: torch.Tensor, target: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            prediction = net(x, identity)
        F.l1_loss(prediction.float(), target).backward()
        optimizer.step()

    return step


def full_step(net: FusionNet, precision: str, watch: Stopwatch) -> Step:
    """The training module's step (blended and raw loss), its blends timed by ``watch``."""
    from fusion.training.module import FusionModule

    module = FusionModule(["a", "b"], {"width_multiplier": net.config.width_multiplier}, blend={"match_contrast": False},
                          ema_decay=None)
    module.net = net
    blend = module.blend

    def timed_blend(*args):
        with watch("blend"):
            return blend(*args)

    module.blend = timed_blend
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4, fused=True)

    def step(x: torch.Tensor, identity: torch.Tensor, target: torch.Tensor) -> None:
        size = x.shape[-1]
        yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
        mask = ((xx / 0.6) ** 2 + (yy / 0.75) ** 2 < 1).float().expand(x.shape[0], 1, size, size)
        batch = {"source": x.sigmoid(), "template": target.sigmoid(), "mask": mask, "identity": identity}
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = module._step(batch)["loss"]
        loss.backward()
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


def run_stage(
    resolution: int,
    batch: int,
    *,
    precision: str = "fp32",
    width_multiplier: float = 1.0,
    channels_last: bool = True,
    repeats: int = 3,
    step_kind: str = "full",
) -> dict:
    """Time ``repeats`` training steps of the network grown to ``resolution``."""
    if resolution < 16:
        raise ValueError(f"stage resolutions start at 16 px (the first per-identity level), got {resolution}")
    config = FusionConfig(identities=2, resolution=16, width_multiplier=width_multiplier)
    net = FusionNet.build(config, ["full"] * (resolution_level(resolution) - resolution_level(16)))
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(memory_format=memory_format)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, resolution, resolution, generator=generator).contiguous(memory_format=memory_format)
    target = torch.randn(x.shape, generator=generator).contiguous(memory_format=memory_format)
    identity = torch.arange(batch) % 2
    watch = Stopwatch()
    step = full_step(net, precision, watch) if step_kind == "full" else l1_step(net, precision)

    with FlopCounterMode(display=False) as counter:
        step(x, identity, target)  # also the warm-up: oneDNN builds its kernels here
    flops = counter.get_total_flops()
    step(x, identity, target)
    watch.seconds.clear()
    seconds, peaks = [], {"fp32": [], "bf16": []}
    for _ in range(repeats):
        start = time.perf_counter()
        step(x, identity, target)
        seconds.append(time.perf_counter() - start)
        peaks["fp32"].append(matmul_gflops(torch.float32))
        if precision == "bf16":
            peaks["bf16"].append(matmul_gflops(torch.bfloat16))

    best, median = min(seconds), statistics.median(seconds)
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
    }
    if step_kind == "full":
        result["blend_share"] = round(watch.seconds["blend"] / sum(seconds), 3)
    for dtype, measured in peaks.items():
        if measured:
            # Each step is paired with the matmuls right after it, which ran under about the same load.
            fractions = [flops / step_s / 1e9 / peak for step_s, peak in zip(seconds, measured)]
            result[f"matmul_{dtype}_gflops"] = round(statistics.median(measured), 1)
            result[f"fraction_of_{dtype}_peak"] = round(statistics.median(fractions), 3)
            result[f"fraction_of_{dtype}_peak_best"] = round(max(fractions), 3)
    return result


def main(argv: list[str]) -> dict:
    """Time the training step at each resolution and precision asked for; return images/s per stage and
    the share of matmul peak, to size curricula and compare fp32 with bf16.
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
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    stages = [
        run_stage(
            resolution,
            args.batch or STAGE_BATCH.get(resolution, 4),
            precision=precision,
            width_multiplier=args.width_multiplier,
            channels_last=args.channels_last,
            repeats=args.repeats,
            step_kind=args.step,
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
        "stages": stages,
    }
