"""`python -m fusion.bench color`: color harmonisation and quality matching on a graded, degraded plate.

Grades the last `--frames` frames of a plate with a fixed warm, darker,
desaturated grade (and, with `--blur`/`--jpeg`, softens and compresses them),
swaps them with `color=none`, `stats`, `lut` and `lut` with `quality=match`
(the checkpoint must hold a LUT network: `color.py`) through `--blend`, and
reports per setting the milliseconds per frame and, inside the written matte,
the color error against the plate's face region (CIEDE2000 of the mean
color) and against the swap of the ungraded plate graded afterwards (what a
grade would have done to the swapped face; CIEDE2000 per pixel). Writes the contact sheet plate | none | stats
| lut | lut+match.
"""

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from fusion.bench._plates import add_plate_arguments, degraded, write_last_frames
from fusion.color.scores import delta_e, mean_color_error
from fusion.io.image import read_image, write_image
from fusion.swap.pipeline import SwapOptions, swap

SETTINGS = {"none": ("none", "none"), "stats": ("stats", "none"), "lut": ("lut", "none"),
            "lut_match": ("lut", "match")}


def _as_tensor(images: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255


def main(argv: list[str]) -> dict:
    """Swap the graded plate with each color setting; report milliseconds per frame, color errors and the sheet."""
    parser = argparse.ArgumentParser(prog="python -m fusion.bench color")
    add_plate_arguments(parser, checkpoint_help="a checkpoint with a LUT network (color.py)")
    parser.add_argument("--blend", default="multiband", help="multiband (takes the plate's coarse color) | alpha")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict = {"checkpoint": str(args.checkpoint), "plate": str(args.plate), "frames": args.frames,
                     "grade": "warm: -0.3 stops, gains (1.15, 1, 0.85), saturation 0.8, gamma 1.1, S-curve 0.4",
                     "blur": args.blur, "jpeg": args.jpeg, "blend": args.blend}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        write_last_frames(args.plate, scratch / "graded", args.frames, "warm", args.blur, args.jpeg)
        write_last_frames(args.plate, scratch / "filmed", args.frames)
        plates = [read_image(p) for p in sorted((scratch / "graded").glob("*.png"))]
        swap(scratch / "filmed", scratch / "reference", args.checkpoint, args.identity,
             SwapOptions(blend=args.blend, device=args.device))
        reference = [degraded(read_image(p), "warm") for p in sorted((scratch / "reference").glob("*.png"))]
        columns = [plates]
        for name, (color, quality) in SETTINGS.items():
            out = scratch / name
            start = time.perf_counter()
            report = swap(scratch / "graded", out, args.checkpoint, args.identity,
                          SwapOptions(blend=args.blend, color=color, quality=quality, write_matte=True,
                                      device=args.device))
            milliseconds = 1000 * (time.perf_counter() - start) / report.frames
            frames = [read_image(p) for p in sorted(out.glob("*.png"))]
            mattes = [read_image(p) / 65535 for p in sorted((scratch / f"{name}_matte").glob("*.png"))]
            inner = torch.from_numpy(np.stack([m >= 0.99 for m in mattes]).astype(np.float32))[:, None]
            results[name] = {
                "ms_per_frame": round(milliseconds, 1),
                "color_ms_per_frame": round(1000 * report.seconds.get("color", 0.0) / report.frames, 1),
                "color_error_to_plate": round(float(mean_color_error(_as_tensor(frames), _as_tensor(plates),
                                                                     inner).mean()), 2),
                "delta_e_to_graded_swap": round(delta_e(_as_tensor(frames), _as_tensor(reference), inner), 2)}
            columns.append(frames)
        rows = []
        for i in range(min(3, len(plates))):
            ys, xs = np.nonzero(mattes[i] > 0)
            pad = int(0.3 * (xs.max() - xs.min()))
            box = (slice(max(ys.min() - pad, 0), ys.max() + pad), slice(max(xs.min() - pad, 0), xs.max() + pad))
            tiles = [cv2.resize(column[i][box], (192, 192), interpolation=cv2.INTER_AREA) for column in columns]
            rows.append(np.concatenate(tiles, 1))
        sheet = args.out / f"color_sheet_{args.blend}.png"
        write_image(sheet, np.concatenate(rows, 0))
    results["contact_sheet"] = str(sheet)
    return results
