"""Temporal stability: how much more the swapped face flickers than the plate did.

The mean absolute frame-to-frame change inside the face region of the swap,
divided by the same measure on the plate: 1 means the swap moves exactly as
much as the original footage, above 1 means added flicker. Only a frame and
the next frame of the same source make a pair: held-out frames are the tails
of several clips with no-face frames dropped, and a change across a cut or a
gap is a change of shot, not flicker, in swap and plate alike. Both are
accumulated batch by batch (`FrameChange`, `TemporalRatio`), so a long
sequence never has to be held whole; any split gives the same value.
"""

from collections.abc import Sequence

import numpy as np

#: Where a frame is in its footage: (source, frame number).
Position = tuple[str, int]


def follows(at: Sequence[Position]) -> np.ndarray:
    """(T - 1,) bool: whether each frame after the first is the next frame of the previous one's source.

    >>> follows([("a", 7), ("a", 8), ("a", 10), ("b", 11), ("b", 12)]).tolist()
    [True, False, False, True]
    """
    return np.array([source == before[0] and frame == before[1] + 1
                     for before, (source, frame) in zip(at[:-1], at[1:])], bool)


class FrameChange:
    """Mean |frame[t] - frame[t-1]| over pixels inside both frames' masks, fed in consecutive batches.

    `add` frames (T, H, W, C) float and masks (T, H, W) bool in order, with
    each frame's (source, frame number) (`at`; left out, the frames are one
    unbroken clip), then read `value`. Only frames that follow one another in
    one source are paired. The last frame of a batch is carried to pair with
    the next batch's first; each pair's sum is taken on its own, in float64,
    so the value does not depend on how the sequence was split.

    >>> frames, masks = np.random.default_rng(0).uniform(0, 1, (5, 8, 8, 3)), np.ones((5, 8, 8), bool)
    >>> at = [("a", 1), ("a", 2), ("a", 4), ("b", 0), ("b", 1)]
    >>> whole = FrameChange().add(frames, masks, at)
    >>> split = FrameChange().add(frames[:1], masks[:1], at[:1]).add(frames[1:4], masks[1:4], at[1:4])
    >>> split.add(frames[4:], masks[4:], at[4:]).value() == whole.value(), whole.pairs
    (True, 2)
    """

    def __init__(self):
        self.frames, self.pairs, self.count, self.total = 0, 0, 0, 0.0
        self.last: tuple[np.ndarray, np.ndarray, list[Position]] | None = None

    def add(self, frames: np.ndarray, masks: np.ndarray, at: Sequence[Position] | None = None) -> "FrameChange":
        """Take the next (T, H, W, C) frames, (T, H, W) bool masks and T (source, frame number) positions
        (default: the frames after the last ones, in one clip), in order; returns self, so calls chain."""
        at = list(at) if at is not None else [("", self.frames + t) for t in range(len(frames))]
        self.frames += len(frames)
        frames = frames.astype(np.float32)
        if self.last is not None:
            frames, masks = np.concatenate([self.last[0], frames]), np.concatenate([self.last[1], masks])
            at = self.last[2] + at
        self.last = frames[-1:], masks[-1:], at[-1:]
        paired = follows(at)
        inside = (masks[1:] & masks[:-1])[paired]
        change = np.abs(frames[1:][paired] - frames[:-1][paired]).mean(-1)
        for pair, pixels in zip(change, inside):
            self.total += float(pair[pixels].sum(dtype=np.float64))
        self.pairs += int(paired.sum())
        self.count += int(inside.sum())
        return self

    def value(self) -> float:
        """The mean absolute change over every pair so far; a ValueError with no two frames that follow
        one another, or masks that never overlap, where no number would mean anything.
        """
        if not self.pairs:
            raise ValueError("need at least two frames, one after the other in one source")
        if not self.count:
            raise ValueError("the face masks of consecutive frames never overlap")
        return self.total / self.count


class TemporalRatio:
    """`temporal_ratio` of a swap and its plate fed in consecutive batches: `add` them in order, then read `value`."""

    def __init__(self):
        self.swap, self.plate = FrameChange(), FrameChange()

    @property
    def pairs(self) -> int:
        """Frames so far that follow another of their source: with none, there is no ratio."""
        return self.plate.pairs

    def add(self, swap: np.ndarray, plate: np.ndarray, masks: np.ndarray,
            at: Sequence[Position] | None = None) -> "TemporalRatio":
        """Take the next swap and plate frames (T, H, W, C), their face masks (T, H, W) and their (source,
        frame number) positions (default: one unbroken clip), in order; returns self."""
        self.swap.add(swap, masks, at)
        self.plate.add(plate, masks, at)
        return self

    def value(self) -> float:
        """The swap's frame change over the plate's: 1 moves as much as the footage, above 1 is added flicker."""
        return self.swap.value() / max(self.plate.value(), 1e-8)


def temporal_ratio(swap: np.ndarray, plate: np.ndarray, masks: np.ndarray,
                   at: Sequence[Position] | None = None) -> float:
    """`FrameChange` of the swap over that of the plate.

    >>> plate = np.random.default_rng(0).uniform(0, 1, (5, 8, 8, 3))
    >>> temporal_ratio(plate, plate, np.ones((5, 8, 8), bool))
    1.0
    """
    return TemporalRatio().add(swap, plate, masks, at).value()
