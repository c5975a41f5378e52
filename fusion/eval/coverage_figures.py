"""The coverage report's pictures: the plate's yaw and mouth over its frames against the footage's ranges, and
the worst frames' faces beside the identity's nearest crops."""

from pathlib import Path

import cv2
import numpy as np
from matplotlib.figure import Figure

from fusion.metrics.coverage import QUANTITIES, Coverage

#: The quantities the timeline plots, with their axis labels.
PLOTTED = {"yaw": "yaw (degrees)", "mouth": "mouth opening"}
#: Height in pixels of the caption above each pair of faces in the contact sheet.
CAPTION = 24


def plot_timeline(path: Path, coverage: Coverage, numbers: list[int], identity: str) -> None:
    """Write a PNG of the plate's yaw and mouth opening over its frame `numbers`, the footage's range of each as a
    band, outside frames marked in red (matplotlib's Agg canvas: no display, no global state)."""
    figure = Figure(figsize=(10, 5), layout="constrained")
    axes = figure.subplots(len(PLOTTED), 1, sharex=True)
    numbers, outside = np.asarray(numbers), coverage.outside
    for axis, (name, label) in zip(axes, PLOTTED.items()):
        column = QUANTITIES.index(name)
        values = coverage.plate[:, column]
        low, high = np.nanmin(coverage.footage[:, column]), np.nanmax(coverage.footage[:, column])
        axis.axhspan(low, high, color="tab:green", alpha=0.25, label=f"{identity}'s footage")
        axis.hlines([low, high], numbers[0], numbers[-1], color="tab:green", linewidth=0.8)
        axis.plot(numbers, values, color="tab:blue", marker=".", label="plate")
        axis.scatter(numbers[outside], values[outside], color="tab:red", zorder=3, label="outside the footage")
        axis.set_ylabel(label)
    axes[0].legend(loc="upper right", fontsize=8)
    axes[-1].set_xlabel("plate frame")
    figure.suptitle(f"the plate against {identity}'s footage")
    figure.savefig(path, dpi=100)


def pair_tile(plate_face: np.ndarray, crop: np.ndarray, caption: str) -> np.ndarray:
    """One row of the contact sheet: a caption over two equal 8-bit RGB thumbnails side by side."""
    size = plate_face.shape[0]
    row = np.full((CAPTION + size, 2 * size, 3), 32, np.uint8)
    row[CAPTION:, :size], row[CAPTION:, size:] = plate_face, crop
    cv2.putText(row, caption, (4, CAPTION - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (235, 235, 235), 1, cv2.LINE_AA)
    return row

