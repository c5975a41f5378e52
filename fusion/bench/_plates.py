"""Plates degraded on purpose for the benchmarks: a plate's last frames through `fusion.eval.degrade`, as PNGs."""

from pathlib import Path

import numpy as np
import torch

from fusion.eval.degrade import degrade
from fusion.io.footage import read_frames, source_from_path
from fusion.io.image import as_rgb, decode, to_uint8, write_image


def degraded(frame: np.ndarray, grade: str = "none", blur: float = 0.0, jpeg: int = 0) -> np.ndarray:
    """An (H, W, 3) uint8 frame graded (`none` | `warm`), blurred by `blur` px and JPEG-compressed at `jpeg` (0: not)."""
    image = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255
    return decode(degrade(image, grade, blur, jpeg)[0].permute(1, 2, 0).numpy(), np.uint8)


def write_last_frames(plate: Path, folder: Path, count: int, grade: str = "none", blur: float = 0.0,
                      jpeg: int = 0) -> None:
    """Write the plate's last `count` frames, `degraded`, as `folder/frame.NNNN.png`."""
    source = source_from_path(plate)
    for index, image in read_frames(source, source.frames - count, source.frames):
        write_image(folder / f"frame.{index:04d}.png", degraded(to_uint8(as_rgb(image)[0]), grade, blur, jpeg))
