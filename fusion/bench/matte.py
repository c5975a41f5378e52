"""`python -m fusion.bench matte`: the learned occlusion matte, semi-supervised against supervised-only.

Trains the matte of `--checkpoint` twice on the same labelled crops (with and
without the unlabelled terms), reports each one's held-out IoU (with test-bank
occluders, and on clean crops against the hull) and training time; then pastes
a test-bank occluder over the face in held-out frames of a plate, swaps them
with `matte=hull` and `matte=learned`, and reports the plate-space IoU of each
written matte against the truth (the hull matte without the occluder), the
share of occluder pixels kept as filmed, milliseconds per frame of the matte
and of the whole swap, and a contact sheet (occluded plate | hull | learned |
learned matte).
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from fusion.bench._shared_clips import SHARED_CLIPS
from fusion.faces.landmarks import load_backend
from fusion.io.footage import read_frames, source_from_path
from fusion.io.image import read_image, to_uint8, write_image
from fusion.occlusion.fit import fit_matte
from fusion.occlusion.options import MatteOptions
from fusion.occlusion.occluders import OccluderBank
from fusion.swap.pipeline import SwapOptions, swap


def occluded_frames(plate: Path, folder: Path, count: int, seed: int) -> list[np.ndarray]:
    """Write `count` frames from the plate's last tenth with a test-bank occluder over the face as PNGs in
    `folder`; return each occluder's alpha in plate pixels."""
    source = source_from_path(plate)
    first = source.frames - source.frames // 10
    picks = set(np.linspace(first, source.frames - 1, count).round().astype(int).tolist())
    backend, bank, alphas = load_backend("dlib"), OccluderBank("test"), []
    for index, plate in read_frames(source, first, source.frames):
        if index not in picks:
            continue
        frame = to_uint8(plate.rgb)
        points = backend.landmarks(frame, backend.detect(frame)[0])
        width = np.ptp(points[:, 0])
        side = int(width * 2)  # a square the face fills half of, as an aligned crop
        x0, y0 = np.round(points.mean(0) - side / 2).astype(int)
        padded = cv2.copyMakeBorder(frame, side, side, side, side, cv2.BORDER_REFLECT101)
        region = padded[y0 + side:y0 + 2 * side, x0 + side:x0 + 2 * side].astype(np.float32) / 255
        pasted, alpha = bank.paste(region, np.random.default_rng([seed, index]))
        padded[y0 + side:y0 + 2 * side, x0 + side:x0 + 2 * side] = to_uint8(pasted)
        full = np.zeros(padded.shape[:2], np.float32)
        full[y0 + side:y0 + 2 * side, x0 + side:x0 + 2 * side] = alpha
        write_image(folder / f"frame.{index:04d}.png", padded[side:-side, side:-side])
        alphas.append(full[side:-side, side:-side])
    return alphas


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def main(argv: list[str]) -> dict:
    """Train both mattes, score them, swap occluded frames with each matte and write the contact sheet."""
    parser = argparse.ArgumentParser(prog="python -m fusion.bench matte")
    parser.add_argument("--checkpoint", type=Path, required=True, help="a trained checkpoint")
    parser.add_argument("--cache", type=Path, required=True, help="the cache it was trained from")
    parser.add_argument("--identity", required=True, help="whose face to swap into the plate")
    parser.add_argument("--plate", type=Path, default=SHARED_CLIPS / "d3.mp4")
    parser.add_argument("--out", type=Path, required=True, help="folder for the two checkpoints and the sheet")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--labelled", type=int, default=200)
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict = {"checkpoint": str(args.checkpoint), "steps": args.steps, "labelled": args.labelled}
    paths = {}
    for mode, semi in (("semi_supervised", True), ("supervised_only", False)):
        options = MatteOptions(steps=args.steps, labelled=args.labelled, semi_supervised=semi, device=args.device,
                               seed=args.seed)
        fitted = fit_matte(args.checkpoint, args.cache, options, args.out / f"{mode}.matte.ckpt", overwrite=True)
        paths[mode] = fitted.path
        results[mode] = {**fitted.scores, "train_seconds": round(fitted.seconds, 1), "unlabelled": fitted.unlabelled}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        alphas = occluded_frames(args.plate, scratch / "plates", args.frames, args.seed)
        frames, mattes, plates = {}, {}, [read_image(p) for p in sorted((scratch / "plates").glob("*.png"))]
        for matte in ("hull", "learned"):
            out = scratch / matte
            start = time.perf_counter()
            report = swap(scratch / "plates", out, paths["semi_supervised"], args.identity,
                          SwapOptions(matte=matte, write_matte=True, device=args.device))
            wall = time.perf_counter() - start
            frames[matte] = [read_image(p) for p in sorted(out.glob("*.png"))]
            mattes[matte] = [read_image(p) / 65535 for p in sorted((scratch / f"{matte}_matte").glob("*.png"))]
            per_frame = lambda seconds: round(1000 * seconds / report.frames, 1)  # noqa: E731
            results[f"swap_{matte}"] = {"ms_per_frame": per_frame(wall),
                                        "matte_ms_per_frame": per_frame(report.seconds.get("matte", 0.0))}
        truth = [(hull > 0) & (alpha < 0.5) for hull, alpha in zip(mattes["hull"], alphas)]
        for matte in ("hull", "learned"):
            occluder = [(alpha >= 0.5) & (hull > 0) for alpha, hull in zip(alphas, mattes["hull"])]
            kept = [(f == p).all(-1)[o].mean() for f, p, o in zip(frames[matte], plates, occluder) if o.any()]
            results[f"swap_{matte}"].update({
                "plate_iou": round(float(np.mean([_iou(m > 0, t) for m, t in zip(mattes[matte], truth)])), 3),
                "occluder_kept_as_filmed": round(float(np.mean(kept)), 3)})
        rows = []
        for plate, hull, learned, matte, hull_matte in zip(plates, frames["hull"], frames["learned"],
                                                           mattes["learned"], mattes["hull"]):
            ys, xs = np.nonzero(hull_matte > 0)
            pad = int(0.3 * (xs.max() - xs.min()))
            box = (slice(max(ys.min() - pad, 0), ys.max() + pad), slice(max(xs.min() - pad, 0), xs.max() + pad))
            tiles = [plate, hull, learned, to_uint8(np.repeat(matte[..., None], 3, -1))]
            tiles = [cv2.resize(tile[box], (192, 192), interpolation=cv2.INTER_AREA) for tile in tiles]
            rows.append(np.concatenate(tiles, 1))
        sheet = args.out / "matte_sheet.png"
        write_image(sheet, np.concatenate(rows, 0))
    results["contact_sheet"] = str(sheet)
    (args.out / "matte_bench.json").write_text(json.dumps(results, indent=2))
    return results
