"""`python -m fusion.bench quality`: quality matching on plates degraded on purpose.

Takes the last `--frames` frames of a plate, degrades copies of them (a
Gaussian blur and JPEG compression; `--blur 0 --jpeg 0` keeps them as they
are), swaps each set with `quality=none` and `quality=match`, and reports per
setting the milliseconds per frame and the quality gap inside the face: the
relative difference between the swapped face's and the plate's measured blur,
noise (worst channel) and JPEG quality, where the reference is the plate's own
face in the same region. Writes a contact sheet (plate | none | match) per
degradation.
"""

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from fusion.bench._plates import add_plate_arguments, write_last_frames
from fusion.io.image import encode, read_image, write_image
from fusion.swap.pipeline import SwapOptions, swap
from fusion.swap.quality import measure_quality


def _gap(got, want) -> dict:
    relative = lambda a, b: None if a is None or b is None else round(abs(a - b) / max(b, 1e-6), 3)  # noqa: E731
    return {"blur": relative(got.blur, want.blur),
            "noise": round(float(np.max(np.abs(got.noise - want.noise) / np.maximum(want.noise, 1e-6))), 3),
            "jpeg": relative(got.jpeg, want.jpeg), "jpeg_found": got.jpeg, "jpeg_plate": want.jpeg}


def main(argv: list[str]) -> dict:
    """Swap degraded and as-filmed frames with and without quality matching; report time and the quality gaps."""
    parser = argparse.ArgumentParser(prog="python -m fusion.bench quality")
    add_plate_arguments(parser)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict = {"checkpoint": str(args.checkpoint), "plate": str(args.plate), "frames": args.frames}
    with tempfile.TemporaryDirectory() as scratch:
        for name, blur, jpeg in (("as_filmed", 0.0, 0), ("degraded", args.blur, args.jpeg)):
            folder = Path(scratch) / name
            write_last_frames(args.plate, folder / "plates", args.frames, "none", blur, jpeg)
            plates = [read_image(p) for p in sorted((folder / "plates").glob("*.png"))]
            results[name] = {"blur": blur, "jpeg": jpeg}
            swapped = {}
            for quality in ("none", "match"):
                out = folder / quality
                start = time.perf_counter()
                report = swap(folder / "plates", out, args.checkpoint, args.identity,
                              SwapOptions(quality=quality, write_matte=True, device=args.device))
                milliseconds = 1000 * (time.perf_counter() - start) / report.frames
                frames = [read_image(p) for p in sorted(out.glob("*.png"))]
                mattes = [read_image(p) / 65535 for p in sorted((folder / f"{quality}_matte").glob("*.png"))]
                gaps = []
                for frame, plate, matte in zip(frames, plates, mattes):
                    inner = cv2.erode((matte >= 0.99).astype(np.uint8), np.ones((9, 9), np.uint8))
                    ys, xs = np.nonzero(inner)
                    if len(xs) < 256:
                        continue
                    box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
                    origin = (int(xs.min()), int(ys.min()))
                    gaps.append(_gap(measure_quality(encode(frame)[box], inner[box], origin),
                                     measure_quality(encode(plate)[box], inner[box], origin)))
                mean = lambda key: (round(float(np.mean([g[key] for g in gaps if g[key] is not None])), 3)  # noqa: E731
                                    if any(g[key] is not None for g in gaps) else None)
                results[name][quality] = {"ms_per_frame": round(milliseconds, 1), "blur_gap": mean("blur"),
                                          "noise_gap": mean("noise"), "jpeg_gap": mean("jpeg"),
                                          "jpeg_found": [g["jpeg_found"] for g in gaps],
                                          "jpeg_plate": [g["jpeg_plate"] for g in gaps]}
                swapped[quality] = frames
            rows = [np.concatenate([plate, none, match], 1)
                    for plate, none, match in list(zip(plates, swapped["none"], swapped["match"]))[:3]]
            write_image(args.out / f"quality_{name}.png", np.concatenate(rows, 0))
    results["contact_sheets"] = [str(args.out / f"quality_{name}.png") for name in ("as_filmed", "degraded")]
    return results
