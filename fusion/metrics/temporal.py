"""Temporal stability: how much more the swapped face flickers than the plate did.

The mean absolute frame-to-frame change inside the face region of the swap,
divided by the same measure on the plate: 1 means the swap moves exactly as
much as the original footage, above 1 means added flicker. Both are
accumulated batch by batch (`FrameChange`, `TemporalRatio`), so a long
sequence never has to be held whole; any split gives the same value.
"""

import numpy as np


class FrameChange:
    """Mean |frame[t] - frame[t-1]| over pixels inside both frames' masks, fed in consecutive batches.

    `add` frames (T, H, W, C) float and masks (T, H, W) bool in order, then
    read `value`. The last frame of a batch is carried to pair with the next
    batch's first; each pair's sum is taken on its own, in float64, so the
    value does not depend on how the sequence was split.

    >>> frames, masks = np.random.default_rng(0).uniform(0, 1, (5, 8, 8, 3)), np.ones((5, 8, 8), bool)
    >>> whole = FrameChange().add(frames, masks).value()
    >>> split = FrameChange().add(frames[:1], masks[:1]).add(frames[1:4], masks[1:4]).add(frames[4:], masks[4:])
    >>> split.value() == whole
    True
    """

    def __init__(self):
        self.frames, self.count, self.total = 0, 0, 0.0
        self.last: tuple[np.ndarray, np.ndarray] | None = None

    def add(self, frames: np.ndarray, masks: np.ndarray) -> "FrameChange":
        """Take the next (T, H, W, C) frames and (T, H, W) bool masks, in order; returns self, so calls chain."""
        self.frames += len(frames)
        frames = frames.astype(np.float32)
        if self.last is not None:
            frames, masks = np.concatenate([self.last[0], frames]), np.concatenate([self.last[1], masks])
        self.last = frames[-1:], masks[-1:]
        inside = masks[1:] & masks[:-1]
        change = np.abs(np.diff(frames, axis=0)).mean(-1)
        for pair, pixels in zip(change, inside):
            self.total += float(pair[pixels].sum(dtype=np.float64))
        self.count += int(inside.sum())
        return self

    def value(self) -> float:
        """The mean absolute change over every consecutive pair so far; a ValueError with fewer than two
        frames or masks that never overlap, where no number would mean anything.
        """
        if self.frames < 2:
            raise ValueError("need at least two frames")
        if not self.count:
            raise ValueError("the face masks of consecutive frames never overlap")
        return self.total / self.count


class TemporalRatio:
    """`temporal_ratio` of a swap and its plate fed in consecutive batches: `add` them in order, then read `value`."""

    def __init__(self):
        self.swap, self.plate = FrameChange(), FrameChange()

    def add(self, swap: np.ndarray, plate: np.ndarray, masks: np.ndarray) -> "TemporalRatio":
        """Take the next swap and plate frames (T, H, W, C) and their face masks (T, H, W), in order; returns self."""
        self.swap.add(swap, masks)
        self.plate.add(plate, masks)
        return self

    def value(self) -> float:
        """The swap's frame change over the plate's: 1 moves as much as the footage, above 1 is added flicker."""
        return self.swap.value() / max(self.plate.value(), 1e-8)


def temporal_ratio(swap: np.ndarray, plate: np.ndarray, masks: np.ndarray) -> float:
    """`FrameChange` of the swap over that of the plate.

    >>> plate = np.random.default_rng(0).uniform(0, 1, (5, 8, 8, 3))
    >>> temporal_ratio(plate, plate, np.ones((5, 8, 8), bool))
    1.0
    """
    return TemporalRatio().add(swap, plate, masks).value()
