"""A swap's timeline: mouth opening and yaw over p's held-out frames, the swap p -> q against the plate.

The plate is the real held-out frame the swap was composited into, and the
self-swap (p's own decoder) is drawn as the floor: where it parts from the
plate too, the model cannot follow that frame whoever's face it draws. The
frames are drawn in the order scored: each held-out source's tail in frame
order, the sources one after another with a dotted line between them. A frame
without a face leaves a gap (a dot alone: a face between two gaps). Drawn on matplotlib's Agg canvas (no display,
no global state) at a fixed size.
"""

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from fusion.eval.scores import IdentityScores
from fusion.eval.summary import performance
from fusion.metrics.performance import Performance
from fusion.metrics.temporal import Position

#: (width, height) of a timeline image in pixels.
TIMELINE_SIZE = (960, 480)
_DPI = 100


def source_starts(positions: list[Position]) -> list[int]:
    """The indices where a new source begins, after the first.

    >>> source_starts([("a", 8), ("a", 9), ("b", 3), ("b", 4), ("c", 0)])
    [2, 4]
    """
    return [i for i in range(1, len(positions)) if positions[i][0] != positions[i - 1][0]]


def timeline_image(plate: Performance, swap: Performance, floor: Performance, positions: list[Position],
                   title: str) -> np.ndarray:
    """(H, W, 3) uint8 image (`TIMELINE_SIZE`) of mouth opening above yaw, per frame: plate, swap and floor."""
    if not len(plate.mouth) == len(swap.mouth) == len(floor.mouth) == len(positions):
        raise ValueError(f"timeline of {len(positions)} frames given performances of {len(plate.mouth)}, "
                         f"{len(swap.mouth)} and {len(floor.mouth)} frames")
    figure = Figure(figsize=(TIMELINE_SIZE[0] / _DPI, TIMELINE_SIZE[1] / _DPI), dpi=_DPI, layout="constrained")
    canvas = FigureCanvasAgg(figure)
    frames = np.arange(len(positions))
    mouth, yaw = figure.subplots(2, 1, sharex=True)
    for axes, field, label in ((mouth, "mouth", "mouth opening"), (yaw, "yaw", "yaw, degrees")):
        axes.plot(frames, getattr(plate, field), ".-", color="black", linewidth=1.5, markersize=3,
                  label="plate (real frame)")
        axes.plot(frames, getattr(swap, field), ".-", color="tab:red", linewidth=1.5, markersize=3, label="swap")
        axes.plot(frames, getattr(floor, field), color="tab:gray", linewidth=1, linestyle="--",
                  label="self-swap (floor)")
        for start in source_starts(positions):
            axes.axvline(start - 0.5, color="tab:blue", linestyle=":", linewidth=1)
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
    mouth.set_title(title)
    mouth.legend(loc="upper right", fontsize="small")
    yaw.xaxis.set_major_locator(MaxNLocator(integer=True))
    yaw.set_xlabel("held-out frame (each source's tail in turn, dotted lines between sources)")
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def swap_timelines(names: list[str], scores: list[IdentityScores]) -> dict[str, np.ndarray]:
    """Every swap's timeline image, keyed `<p>_to_<q>` (the file name it is written under)."""
    images = {}
    for p, identity in zip(names, scores):
        plate, floor = performance(identity.real), performance(identity.self_swap)
        for j, pair in identity.pairs.items():
            images[f"{p}_to_{names[j]}"] = timeline_image(plate, performance(pair.analyses), floor,
                                                          identity.positions, f"{p} -> {names[j]}")
    return images
