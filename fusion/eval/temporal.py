"""Temporal stability: how much more the swapped face flickers than the plate did.

The mean absolute frame-to-frame change inside the face region of the swap,
divided by the same measure on the plate: 1 means the swap moves exactly as
much as the original footage, above 1 means added flicker.
"""

import numpy as np


def frame_change(frames: np.ndarray, masks: np.ndarray) -> float:
    """Mean |frame[t] - frame[t-1]| over pixels inside both frames' masks.

    frames (T, H, W, C) float, masks (T, H, W) bool.
    """
    if len(frames) < 2:
        raise ValueError("need at least two frames")
    inside = masks[1:] & masks[:-1]
    if not inside.any():
        raise ValueError("the face masks of consecutive frames never overlap")
    change = np.abs(np.diff(frames.astype(np.float32), axis=0)).mean(-1)
    return float(change[inside].mean())


def temporal_ratio(swap: np.ndarray, plate: np.ndarray, masks: np.ndarray) -> float:
    """frame_change of the swap over that of the plate.

    >>> plate = np.random.default_rng(0).uniform(0, 1, (5, 8, 8, 3))
    >>> temporal_ratio(plate, plate, np.ones((5, 8, 8), bool))
    1.0
    """
    return frame_change(swap, masks) / max(frame_change(plate, masks), 1e-8)
