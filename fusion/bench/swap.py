"""`python -m fusion.bench swap`: swap throughput on a real plate, and where the time goes.

Runs the real `swap` (landmarks, stabilisation, align, network, multi-band
composite, H.264 out) on a shared clip (512 x 512, 30 fps) and reports frames
per second of wall time and each stage's share. Without `--checkpoint` the
network is an untrained one of the `clips` preset's size at `--resolution`:
its cost is that of a trained one.

`--plate 4k` measures a 4K close-up instead (`fusion.bench._plates.close_up`)
as a 16-bit PNG sequence, a half-float PIZ EXR sequence, a 10-bit DPX sequence and an
MP4, each swapped by this checkout and by the commit `--old` (its `fusion`
package taken out with `git archive`; it cannot read DPX, so that one is this
checkout's alone), in turns, in fresh processes: the old/new ratio of one run
holds when other work shares the machine, absolute numbers do not.
"""

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import torch

import fusion
from fusion.bench._plates import write_4k_plates
from fusion.bench._shared_clips import SHARED_CLIPS
from fusion.data.cache import CropSettings
from fusion.swap.pipeline import SwapOptions, swap
from fusion.model.checkpoint import save_untrained

#: The commit `--plate 4k` compares with by default: main before the 4K work (issue 28, item 6).
OLD_COMMIT = "779fd85"

#: Where each plate's swap writes, by plate: sequences in a folder of the plate's format, the video to an MP4.
OUTPUTS = {"png16": "out_png16", "exr": "out_exr", "dpx": "out_dpx", "mp4": "out.mp4"}

#: Plates the `--old` commit cannot read (DPX came with OpenImageIO): only this checkout swaps them.
NEW_ONLY = {"dpx"}

#: One swap in a fresh process, on the `fusion` package first on its PYTHONPATH: its report as one JSON line.
_SWAP_ONCE = """
import json, sys, time
import fusion
from fusion.swap.pipeline import SwapOptions, swap
start = time.perf_counter()
report = swap(sys.argv[1], sys.argv[2], sys.argv[3], "a", SwapOptions(blend=sys.argv[4]))
print(json.dumps({"package": fusion.__file__, "wall": time.perf_counter() - start, "frames": report.frames,
                  "swapped": report.swapped, "seconds": report.seconds}))
"""


def _shares(seconds: dict[str, float]) -> dict[str, float]:
    """Each stage's share of the stages' seconds, largest first.

    >>> _shares({"read": 1.0, "composite": 3.0})
    {'composite': 0.75, 'read': 0.25}
    """
    total = sum(seconds.values())
    return {stage: round(s / total, 3) for stage, s in sorted(seconds.items(), key=lambda x: -x[1])}


def _untrained(path: Path, resolution: int, width_multiplier: float) -> Path:
    """An untrained network of identities a and b, crops laid out as a 512 px cache found by dlib."""
    return save_untrained(path, ["a", "b"], {"resolution": resolution, "width_multiplier": width_multiplier},
                          CropSettings(resolution=512, landmarks="dlib").recorded())


def _old_package(commit: str, folder: Path) -> Path:
    """`commit`'s `fusion` package, unpacked under `folder` (from the git repository holding this checkout)."""
    root = Path(fusion.__file__).resolve().parents[1]
    archive = subprocess.run(["git", "-C", str(root), "archive", "--format=tar", commit, "fusion"],
                             capture_output=True, check=False)
    if archive.returncode:
        raise SystemExit(f"--old {commit}: git archive failed in {root} ({archive.stderr.decode().strip()}); "
                         "pass a commit of that repository")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def _swap_in(package_root: Path, plate: Path, output: Path, checkpoint: Path, blend: str) -> dict:
    """Swap `plate` in a fresh process running the `fusion` package under `package_root`; its report and wall time."""
    environment = dict(os.environ, PYTHONPATH=str(package_root))
    done = subprocess.run([sys.executable, "-c", _SWAP_ONCE, str(plate), str(output), str(checkpoint), blend],
                          env=environment, cwd=package_root, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"the swap under {package_root} failed on {plate}:\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    if not Path(report["package"]).is_relative_to(package_root):
        raise SystemExit(f"the swap meant to run {package_root} ran {report['package']}")
    stages = sum(report["seconds"].values())
    return {"package": report["package"], "frames": report["frames"], "swapped": report["swapped"],
            "frames_per_second": round(report["frames"] / report["wall"], 3),
            "wall_seconds": round(report["wall"], 2), "share_of_time": _shares(report["seconds"]),
            "unaccounted_share": round(1 - stages / report["wall"], 3), "seconds": report["seconds"]}


def four_k(args: argparse.Namespace) -> dict:
    """The 4K close-up in each format, swapped by the `--old` commit and by this checkout in turns, `--repeats`
    times: frames per second of wall time (loading the checkpoint included) and each stage's share of each
    version's fastest try (the least disturbed by other work), and new over old."""
    new_root = Path(fusion.__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        old_root = _old_package(args.old, folder / "old")
        checkpoint = args.checkpoint or _untrained(folder / "untrained.ckpt", args.resolution, args.width_multiplier)
        plates = write_4k_plates(folder / "plates", args.frames)
        formats = {}
        for name, plate in plates.items():
            versions = {"new": new_root} if name in NEW_ONLY else {"old": old_root, "new": new_root}
            tries = {version: [] for version in versions}
            for attempt in range(args.repeats):
                for version, root in versions.items():
                    output = folder / f"{version}{attempt}" / OUTPUTS[name]
                    tries[version].append(_swap_in(root, plate, output, checkpoint, args.blend))
            runs = {version: dict(max(done, key=lambda run: run["frames_per_second"]),
                                  frames_per_second_each_try=[run["frames_per_second"] for run in done])
                    for version, done in tries.items()}
            if "old" in runs:
                runs["speedup"] = round(runs["new"]["frames_per_second"] / runs["old"]["frames_per_second"], 2)
            formats[name] = runs
    return {
        "plate": f"4K close-up, 3840 x 2160, face ~1300 px, {args.frames} frames",
        "old": args.old,
        "new": str(new_root),
        "checkpoint": str(args.checkpoint or f"untrained, {args.resolution} px, width x{args.width_multiplier}"),
        "blend": args.blend,
        "torch_threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "load_average": [round(load, 2) for load in os.getloadavg()],
        "repeats": args.repeats,
        "formats": formats,
    }


def main(argv: list[str]) -> dict:
    """Run the real `swap` on a plate (an untrained network unless `--checkpoint`) and return frames per
    second of wall time and each stage's share, to see where a swap spends its time; `--plate 4k`: `four_k`.
    """
    parser = argparse.ArgumentParser(prog="python -m fusion.bench swap")
    parser.add_argument("--plate", default=str(SHARED_CLIPS / "d3.mp4"),
                        help="a video or image folder, or 4k: the 4K close-up in four formats, old code and new")
    parser.add_argument("--checkpoint", type=Path, help="a trained checkpoint; default: untrained, see --resolution")
    parser.add_argument("--identity", default="a", help="with --checkpoint: one of its identities")
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--width-multiplier", type=float, default=0.25)
    parser.add_argument("--blend", default="multiband")
    parser.add_argument("--precision", default="fp32", help="fp32 | bf16 (the network under bf16 autocast)")
    parser.add_argument("--frames", type=int, default=6, help="with --plate 4k: frames in the shot")
    parser.add_argument("--old", default=OLD_COMMIT, help="with --plate 4k: the commit to compare with")
    parser.add_argument("--repeats", type=int, default=2, help="with --plate 4k: tries of each version, in turns")
    args = parser.parse_args(argv)
    if args.plate == "4k":
        return four_k(args)
    plate = Path(args.plate)
    if not plate.exists():
        raise SystemExit(f"{plate} not found: pass --plate VIDEO_OR_FOLDER, or --plate 4k")
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        checkpoint = args.checkpoint or _untrained(folder / "untrained.ckpt", args.resolution, args.width_multiplier)
        start = time.perf_counter()
        report = swap(plate, folder / "out.mp4", checkpoint, args.identity,
                      SwapOptions(blend=args.blend, precision=args.precision))
        wall = time.perf_counter() - start
    counted = sum(report.seconds.values())
    return {
        "plate": str(plate),
        "checkpoint": str(args.checkpoint or f"untrained, {args.resolution} px, width x{args.width_multiplier}"),
        "blend": args.blend,
        "precision": args.precision,
        "torch_threads": torch.get_num_threads(),
        "frames": report.frames,
        "swapped": report.swapped,
        "wall_seconds": round(wall, 2),
        "frames_per_second": round(report.frames / wall, 2),
        "share_of_time": _shares(report.seconds),
        "unaccounted_share": round(1 - counted / wall, 3),
    }
