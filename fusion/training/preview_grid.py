"""Preview grids: labelled rows of images side by side (in training: held-out triplets
and what the network makes of them).

Written as PNG into the run folder (and logged to W&B when it is the logger) so a
person can see what each stage learned. Tiles are enlarged (nearest neighbour, so
pixels stay honest) to at least `min_tile` pixels: a 16 px stage is still legible.
"""

from pathlib import Path

import cv2
import numpy as np
import torch

from fusion.io.image import write_image

LABEL_WIDTH = 120


def preview_grid(rows: dict[str, torch.Tensor], count: int = 8, min_tile: int = 128) -> np.ndarray:
    """(S * len(rows), LABEL_WIDTH + S * count, 3) uint8, S = tile side enlarged by a whole factor to >= `min_tile`:
    one labelled row per entry, one column per sample.

    >>> preview_grid({"a": torch.zeros(2, 3, 4, 4), "b": torch.ones(2, 3, 4, 4)}, min_tile=8).shape
    (16, 136, 3)
    """
    side = next(iter(rows.values())).shape[-1]
    scale = -(-min_tile // side)
    strips = []
    for name, images in rows.items():
        tiles = torch.cat(list(images[:count].float().clamp(0, 1)), dim=2).permute(1, 2, 0)
        strip = (tiles * 255 + 0.5).to(torch.uint8).cpu().numpy()
        strip = cv2.resize(strip, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        label = np.full((strip.shape[0], LABEL_WIDTH, 3), 32, np.uint8)
        cv2.putText(label, name, (6, strip.shape[0] // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                    cv2.LINE_AA)
        strips.append(np.concatenate([label, strip], axis=1))
    return np.ascontiguousarray(np.concatenate(strips, axis=0))


def save_preview(grid: np.ndarray, folder: Path, name: str, logger=None, step: int = 0, caption: str = "") -> Path:
    """Write `grid` as `<folder>/<name>.png` and log it where the logger takes images (W&B); returns the path."""
    path = folder / f"{name}.png"
    write_image(path, grid)
    if logger is not None and hasattr(logger, "log_image"):
        logger.log_image(key="preview", images=[grid], step=step, caption=[caption or name])
    return path
