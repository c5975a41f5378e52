"""`python -m fusion.bench swap`: swap throughput on a real plate, and where the time goes.

Runs the real `swap` (landmarks, stabilisation, align, network, multi-band
composite, H.264 out) on a shared clip (512 x 512, 30 fps) and reports frames
per second of wall time and each stage's share. Without `--checkpoint` the
network is an untrained one of the `clips` preset's size at `--resolution`:
its cost is that of a trained one.
"""

import argparse
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import torch

from fusion.bench._shared_clips import SHARED_CLIPS
from fusion.data.cache import CropSettings
from fusion.swap.pipeline import SwapOptions, swap
from fusion.model.checkpoint import save_untrained


def main(argv: list[str]) -> dict:
    """Run the real `swap` on a plate (an untrained network unless `--checkpoint`) and return frames per
    second of wall time and each stage's share, to see where a swap spends its time.
    """
    parser = argparse.ArgumentParser(prog="python -m fusion.bench swap")
    parser.add_argument("--plate", type=Path, default=SHARED_CLIPS / "d3.mp4")
    parser.add_argument("--checkpoint", type=Path, help="a trained checkpoint; default: untrained, see --resolution")
    parser.add_argument("--identity", default="a", help="with --checkpoint: one of its identities")
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--width-multiplier", type=float, default=0.25)
    parser.add_argument("--blend", default="multiband")
    parser.add_argument("--precision", default="fp32", help="fp32 | bf16 (the network under bf16 autocast)")
    args = parser.parse_args(argv)
    if not args.plate.exists():
        raise SystemExit(f"{args.plate} not found: pass --plate VIDEO_OR_FOLDER")
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        checkpoint = args.checkpoint or save_untrained(
            folder / "untrained.ckpt", ["a", "b"], {"resolution": args.resolution, "width_multiplier": args.width_multiplier},
            asdict(CropSettings(resolution=512, landmarks="dlib")))
        start = time.perf_counter()
        report = swap(args.plate, folder / "out.mp4", checkpoint, args.identity, SwapOptions(blend=args.blend, precision=args.precision))
        wall = time.perf_counter() - start
    counted = sum(report.seconds.values())
    return {
        "plate": str(args.plate),
        "checkpoint": str(args.checkpoint or f"untrained, {args.resolution} px, width x{args.width_multiplier}"),
        "blend": args.blend,
        "precision": args.precision,
        "torch_threads": torch.get_num_threads(),
        "frames": report.frames,
        "swapped": report.swapped,
        "wall_seconds": round(wall, 2),
        "frames_per_second": round(report.frames / wall, 2),
        "share_of_time": {stage: round(s / counted, 3) for stage, s in sorted(report.seconds.items(), key=lambda x: -x[1])},
        "unaccounted_share": round(1 - counted / wall, 3),
    }
