"""How far each frame of a plate lies from an identity's footage in pose and expression, and the frames beyond
it, in words.

A decoder can only give the poses and expressions its identity's footage
taught it; a plate frame turned further, or with a mouth wider open, than any
of those asks it to invent. A face is a point of four quantities from
`measure_performance`, each divided by a scale that makes one unit a change
one sees at a glance:

- yaw and pitch: 10 degrees;
- mouth opening (inner-lip gap / mouth width): 0.1 (closed is about 0.02, a
  talking mouth 0.1 to 0.3);
- eye openness (height / width): 0.1 (open about 0.3, a blink under 0.1).

Roll is left out: crops are aligned by a similarity warp, which takes the
face's roll away (the swap rotates it back), while yaw, pitch and both ratios
come through the warp unchanged. A frame's distance is the Euclidean distance,
in these units, to the nearest footage frame; beyond the threshold (1 by
default: 10 degrees of yaw, or a mouth 0.1 wider, than any footage frame
alike in the rest) the frame is **outside**. The quantities that put it there
are **named**: those at least half a unit from its nearest frame (over a
distance of 1, one of the four always is). A named quantity beyond the
footage's range is said against that range ("mouth open 0.42; B's footage
never opens past 0.18"), one inside it against the nearest frame (the
footage has the value, not with the rest of this face).
"""

from dataclasses import dataclass

import numpy as np
from scipy.spatial import KDTree

from fusion.metrics.performance import Performance

__all__ = ["Coverage", "QUANTITIES", "SCALE", "THRESHOLD", "measure_coverage", "runs"]

#: The quantities a face is placed by, and each one's unit (module docstring).
QUANTITIES = ("yaw", "pitch", "mouth", "eyes")
SCALE = np.array([10.0, 10.0, 0.1, 0.1])
#: A frame farther than this from every footage frame, in those units, is outside the footage.
THRESHOLD = 1.0
#: An outside frame's quantities at least this many units from its nearest footage frame are named.
NAMED = 0.5


def points(performance: Performance) -> np.ndarray:
    """(N, 4) yaw, pitch, mouth and eyes of each frame (NaN: no face)."""
    return np.stack([getattr(performance, name) for name in QUANTITIES], axis=1)


def value_ranges(values: np.ndarray) -> dict[str, list[float]] | None:
    """[min, max] of each quantity over the rows of (N, 4) `values` with a face; None where none has one.

    >>> value_ranges(np.array([[1.0, 2, 0.1, 0.3], [np.nan] * 4, [-3.0, 2, 0.2, 0.3]]))["yaw"]
    [-3.0, 1.0]
    """
    found = values[np.isfinite(values).all(axis=1)]
    if not len(found):
        return None
    return {name: [float(found[:, i].min()), float(found[:, i].max())] for i, name in enumerate(QUANTITIES)}


def runs(flags: np.ndarray) -> list[slice]:
    """The runs of consecutive True in `flags`.

    >>> runs(np.array([False, True, True, False, True]))
    [slice(1, 3, None), slice(4, 5, None)]
    """
    edges = np.diff(np.concatenate([[0], np.asarray(flags, np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [slice(int(start), int(stop)) for start, stop in zip(starts, stops)]


@dataclass(frozen=True)
class Coverage:
    """A plate's frames against an identity's footage: `plate` (N, 4) and `footage` (K, 4) points (`points`),
    each plate frame's `nearest` footage row (-1: no face) and `distance` to it in units (NaN: no face)."""

    plate: np.ndarray
    footage: np.ndarray
    nearest: np.ndarray
    distance: np.ndarray
    threshold: float = THRESHOLD

    @property
    def outside(self) -> np.ndarray:
        """(N,) frames farther than the threshold from every footage frame (a frame with no face is not)."""
        return np.nan_to_num(self.distance, nan=0.0) > self.threshold

    @property
    def gaps(self) -> np.ndarray:
        """(N, 4) each quantity's distance in units from the frame's nearest footage frame (NaN: no face)."""
        nearest = np.where(self.nearest[:, None] >= 0, self.footage[np.maximum(self.nearest, 0)], np.nan)
        return np.abs(self.plate - nearest) / SCALE

    @property
    def excess(self) -> np.ndarray:
        """(N, 4) how far in units each quantity lies beyond the footage's range (0 inside it, NaN: no face)."""
        low, high = np.nanmin(self.footage, axis=0), np.nanmax(self.footage, axis=0)
        return np.maximum(np.maximum(self.plate - high, low - self.plate), 0) / SCALE

    def headline(self, identity: str) -> str:
        """One line: how many frames with a face lie outside `identity`'s footage, and in how many ranges.

        >>> measure_coverage(np.array([[0.0, 0, 0.3, 0.3], [np.nan] * 4]), np.zeros((1, 4))).headline("B")
        "1 of 1 frames with a face lie outside B's footage, in 1 range"
        """
        found, outside = int(np.isfinite(self.distance).sum()), int(self.outside.sum())
        if not outside:
            return f"all {found} frames with a face lie within {identity}'s footage"
        ranges = len(runs(self.outside))
        return (f"{outside} of {found} frames with a face lie outside {identity}'s footage, "
                f"in {ranges} range{'s' if ranges > 1 else ''}")

    def named(self, frame: int) -> list[str]:
        """The quantities that put frame `frame` outside (none where it is inside)."""
        if not self.outside[frame]:
            return []
        return [name for name, gap in zip(QUANTITIES, self.gaps[frame]) if gap >= NAMED]

    def describe(self, run: slice, numbers: list[int], identity: str) -> str:
        """The outside frames `run` (indices) in words, with their frame `numbers`: each quantity named in
        any of them, at the frame where it lies farthest beyond the footage's range, else from its nearest frame.

        >>> footage = np.array([[0.0, 0, 0.02, 0.3], [20.0, 0, 0.18, 0.3]])
        >>> plate = np.array([[38.0, 0, 0.42, 0.3], [0.0, 0, 0.3, 0.3]])
        >>> coverage = measure_coverage(plate, footage)
        >>> coverage.describe(slice(0, 2), [1040, 1041], "B")
        "frames 1040-1041: yaw 38 degrees, B's footage reaches 20; mouth open 0.42, B's footage never opens past 0.18"
        """
        first, last = numbers[run.start], numbers[run.stop - 1]
        phrases = []
        for i, name in enumerate(QUANTITIES):
            frames = [f for f in range(run.start, run.stop) if name in self.named(f)]
            if frames:
                worst = max(frames, key=lambda f: (self.excess[f, i], self.gaps[f, i]))
                phrases.append(self._phrase(i, worst, identity))
        where = f"frame {first}" if first == last else f"frames {first}-{last}"
        return f"{where}: {'; '.join(phrases)}"

    def _phrase(self, quantity: int, frame: int, identity: str) -> str:
        """Quantity number `quantity` of frame `frame` against the footage's range, or its nearest frame."""
        name, value = QUANTITIES[quantity], self.plate[frame, quantity]
        low, high = np.nanmin(self.footage[:, quantity]), np.nanmax(self.footage[:, quantity])
        angle = name in ("yaw", "pitch")
        show = (lambda v: f"{v:.0f}") if angle else (lambda v: f"{v:.2f}")  # noqa: E731
        said = f"{name} {show(value)} degrees" if angle else f"{name} open {show(value)}"
        who, them = f"{identity}'s footage", "" if name == "mouth" else " them"
        if angle and not low <= value <= high:
            return f"{said}, {who} reaches {show(high if value > high else low)}"
        if value > high:
            return f"{said}, {who} never opens{them} past {show(high)}"
        if value < low:
            return f"{name} closed to {show(value)}, {who} never closes{them} below {show(low)}"
        return (f"{said}: {who} spans {show(low)} to {show(high)}, but not with the rest of this face (its "
                f"nearest frame has {show(self.footage[self.nearest[frame], quantity])})")


def measure_coverage(plate: np.ndarray | Performance, footage: np.ndarray | Performance,
                     threshold: float = THRESHOLD) -> Coverage:
    """Each plate frame's nearest footage frame (`Coverage`); `plate` (N, 4) and `footage` (K, 4) as `points` gives
    them, or their `Performance`. Footage rows with no pose (NaN) are never nearest.

    >>> coverage = measure_coverage(np.array([[5.0, 0, 0.05, 0.3], [0.0, 0, 0.3, 0.3]]),
    ...                             np.array([[0.0, 0, 0.05, 0.3], [np.nan] * 4]))
    >>> coverage.distance.round(6).tolist(), coverage.outside.tolist(), coverage.named(1)
    ([0.5, 2.5], [False, True], ['mouth'])
    """
    plate = points(plate) if isinstance(plate, Performance) else np.asarray(plate, np.float64)
    footage = points(footage) if isinstance(footage, Performance) else np.asarray(footage, np.float64)
    usable = np.flatnonzero(np.isfinite(footage).all(axis=1))
    if not len(usable):
        raise ValueError("no footage frame has a pose to compare with")
    found = np.isfinite(plate).all(axis=1)
    nearest, distance = np.full(len(plate), -1), np.full(len(plate), np.nan)
    if found.any():
        distance[found], rows = KDTree(footage[usable] / SCALE).query(plate[found] / SCALE)
        nearest[found] = usable[rows]
    return Coverage(plate, footage, nearest, distance, threshold)
