"""Plates degraded on purpose for the benchmarks: a plate's last frames through `fusion.eval.degrade`, as PNGs."""

import argparse
from pathlib import Path

import numpy as np
import torch

from fusion.bench._shared_clips import SHARED_CLIPS
from fusion.eval.degrade import degrade
from fusion.io.footage import read_frames, source_from_path
from fusion.io.image import decode, to_uint8, write_image


def degraded(frame: np.ndarray, grade: str = "none", blur: float = 0.0, jpeg: int = 0) -> np.ndarray:
    """An (H, W, 3) uint8 frame graded (`none` | `warm`), blurred by `blur` px and JPEG-compressed at `jpeg` (0: not)."""
    image = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255
    return decode(degrade(image, grade, blur, jpeg)[0].permute(1, 2, 0).numpy(), np.uint8)


def write_last_frames(plate: Path, folder: Path, count: int, grade: str = "none", blur: float = 0.0,
                      jpeg: int = 0) -> None:
    """Write the plate's last `count` frames, `degraded`, as `folder/frame.NNNN.png`."""
    source = source_from_path(plate)
    for index, frame in read_frames(source, source.frames - count, source.frames):
        write_image(folder / f"frame.{index:04d}.png", degraded(to_uint8(frame.rgb), grade, blur, jpeg))


def add_plate_arguments(parser: argparse.ArgumentParser, checkpoint_help: str | None = None) -> None:
    """The options of a bench that swaps a degraded plate: the checkpoint, whose face, the plate and how many of
    its last frames, the degradation (blur px, JPEG quality), the output folder and the device."""
    parser.add_argument("--checkpoint", type=Path, required=True, help=checkpoint_help)
    parser.add_argument("--identity", required=True, help="whose face to swap into the plate")
    parser.add_argument("--plate", type=Path, default=SHARED_CLIPS / "d3.mp4")
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--blur", type=float, default=1.5)
    parser.add_argument("--jpeg", type=int, default=30)
    parser.add_argument("--out", type=Path, required=True, help="folder for the contact sheets")
    parser.add_argument("--device", default="cpu")
