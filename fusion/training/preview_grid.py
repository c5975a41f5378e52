"""Preview grids: rows of images side by side (in training: held-out sources, their
reconstructions, and their swaps to the next identity).

Written as PNG into the run folder (and logged to W&B when it is the logger)
so a person can see what each stage learned without opening a notebook.
"""

from pathlib import Path

import numpy as np
import torch

from fusion.io.image import write_image


def preview_grid(rows: dict[str, torch.Tensor], count: int = 8) -> np.ndarray:
    """(H * len(rows), W * count, 3) uint8: one row per entry, one column per sample.

    >>> preview_grid({"a": torch.zeros(2, 3, 4, 4), "b": torch.ones(2, 3, 4, 4)}).shape
    (8, 8, 3)
    """
    tiles = [torch.cat(list(images[:count].float().clamp(0, 1)), dim=2) for images in rows.values()]
    grid = torch.cat(tiles, dim=1).permute(1, 2, 0)
    return (grid * 255 + 0.5).to(torch.uint8).cpu().numpy()


def save_preview(grid: np.ndarray, folder: Path, name: str, logger=None, step: int = 0, caption: str = "") -> Path:
    """Write `grid` as `<folder>/<name>.png` and log it where the logger takes images (W&B); returns the path."""
    path = folder / f"{name}.png"
    write_image(path, grid)
    if logger is not None and hasattr(logger, "log_image"):
        logger.log_image(key="preview", images=[grid], step=step, caption=[caption or name])
    return path
