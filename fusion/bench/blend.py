"""Multi-band blend speed against OpenCV: `python -m fusion.bench blend [--sizes 256 512 1024]`.

Per size: ms per image of `multiband_blend` (batch of B, CPU, float32, contrast
alignment on, default levels) with no gradient, as the swap, the evaluation
and target synthesis call it (its resampling goes through OpenCV, see
`fusion.blend.pyramid`); of building the Laplacian pyramids of source and
template with ``cv2.pyrDown``/``cv2.pyrUp`` one image at a time (same depth);
`ratio` = blend / OpenCV. Also the differentiable path as training runs it
(source requiring grad, autograd recording; torch's own resampling):
`differentiable_ms` and `differentiable_ratio`. Both libraries run on one
thread by default (`--threads`): on the shared 2-core machine this was written
on, torch's OpenMP threads stalled whenever another process held a core (a
256 px blend took 100x longer with 2 threads than with 1), which measured the
load, not the code. The three are timed in turn within each repeat so that
load from other processes hits them alike; medians (and minima) over the
repeats after warm-up.
"""

import argparse
import statistics
import time

import cv2
import numpy as np
import torch

from fusion.blend import default_levels, multiband_blend

#: The bar of issue 13: the no-grad blend at most twice two OpenCV Laplacian pyramid builds.
TARGET_RATIO = 2.0


def _opencv_pyramids(images: list[np.ndarray], levels: int) -> None:
    for image in images:
        gaussian = [image]
        for _ in range(levels - 1):
            gaussian.append(cv2.pyrDown(gaussian[-1]))
        for fine, coarse in zip(gaussian, gaussian[1:]):
            _ = fine - cv2.pyrUp(coarse, dstsize=fine.shape[1::-1])


def _inputs(size: int, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    source = torch.rand(batch, 3, size, size, generator=generator)
    template = torch.rand(batch, 3, size, size, generator=generator)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    mask = ((yy / 0.8) ** 2 + (xx / 0.6) ** 2 < 1).float().expand(batch, 1, size, size).contiguous()
    return source, template, mask


def bench_size(size: int, batch: int, repeats: int, warmup: int) -> dict:
    """Median ms per image at one `size` of the blend, of OpenCV's two Laplacian pyramids (the baseline)
    and of the differentiable path, with their ratios: the numbers the module docstring defines.
    """
    source, template, mask = _inputs(size, batch, torch.Generator().manual_seed(size))
    levels = default_levels(size, size)
    images = [x.permute(1, 2, 0).contiguous().numpy() for x in torch.cat([source, template])]
    trainable = source.clone().requires_grad_()
    runs = {
        "blend": lambda: multiband_blend(source, template, mask, levels=levels),
        "opencv": lambda: _opencv_pyramids(images, levels),
        "differentiable": lambda: multiband_blend(trainable, template, mask, levels=levels),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    for repeat in range(warmup + repeats):
        for name, run in runs.items():
            with torch.inference_mode(name != "differentiable"):
                start = time.perf_counter()
                run()
                if repeat >= warmup:
                    times[name].append((time.perf_counter() - start) * 1000 / batch)
    blend, opencv, differentiable = (statistics.median(times[name]) for name in runs)
    return {
        "levels": levels,
        "blend_ms": round(blend, 3),
        "opencv_pyramids_ms": round(opencv, 3),
        "ratio": round(blend / opencv, 2),
        "ratio_of_minima": round(min(times["blend"]) / min(times["opencv"]), 2),
        "differentiable_ms": round(differentiable, 3),
        "differentiable_ratio": round(differentiable / opencv, 2),
    }


def main(argv: list[str]) -> dict:
    """Time every size with torch's and OpenCV's threads pinned alike (so the ratio measures code, not
    load), and say whether each ratio meets `TARGET_RATIO`.
    """
    parser = argparse.ArgumentParser(prog="python -m fusion.bench blend", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="threads for torch and OpenCV alike; 0 keeps their defaults")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
    sizes = {str(size): bench_size(size, args.batch, args.repeats, args.warmup) for size in args.sizes}
    return {
        "device": "cpu",
        "dtype": "float32",
        "batch": args.batch,
        "torch_threads": torch.get_num_threads(),
        "opencv_threads": cv2.getNumThreads(),
        "sizes": sizes,
        "target_ratio": TARGET_RATIO,
        "target_met": all(entry["ratio"] <= TARGET_RATIO for entry in sizes.values()),
    }
