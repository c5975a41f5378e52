"""`python -m fusion.bench prepare`: prepare throughput on the shared clips.

Runs the real `prepare` (all cores, fresh temporary cache) and reports frames
per second of wall time and the share of worker time per stage.
"""

import argparse
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from fusion.bench._shared_clips import SHARED_CLIPS
from fusion.data.cache import CropSettings
from fusion.data.prepare import prepare
from fusion.data.prepare_options import PrepareOptions



def main(argv: list[str]) -> dict:
    """Run the real `prepare` into a fresh temporary cache and return frames per second of wall time and
    each stage's share of worker time, to see where preparing footage spends its time.
    """
    parser = argparse.ArgumentParser(prog="python -m fusion.bench prepare")
    parser.add_argument("--footage", type=Path, default=SHARED_CLIPS)
    parser.add_argument("--resolution", type=int, default=512)
    parser.add_argument("--landmarks", default="dlib")
    parser.add_argument("--workers", type=int, default=0, help="0 = all cores")
    args = parser.parse_args(argv)
    if not args.footage.is_dir():
        raise SystemExit(f"{args.footage} not found: pass --footage DIR (footage/<identity>/ or loose videos)")
    settings = CropSettings(resolution=args.resolution, landmarks=args.landmarks)
    options = PrepareOptions(workers=args.workers, contact_sheet=0)
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        report = prepare(args.footage, cache, settings, options)
        wall = time.perf_counter() - start
    frames = sum(r["frames_read"] for r in report["identities"].values())
    seconds = Counter()
    for r in report["identities"].values():
        seconds.update(r["seconds"])
    busy = sum(seconds.values())
    return {
        "footage": str(args.footage),
        "cache_resolution": args.resolution,
        "landmarks": args.landmarks,
        "workers": args.workers or os.cpu_count(),
        "frames": frames,
        "faces_kept": report["faces_kept"],
        "wall_seconds": round(wall, 2),
        "frames_per_second": round(frames / wall, 2),
        "share_of_worker_time": {k: round(v / busy, 3) for k, v in seconds.most_common()},
        "worker_utilisation": round(busy / (wall * (args.workers or os.cpu_count())), 3),
    }
