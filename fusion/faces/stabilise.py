"""Temporal stabilisation of video landmarks.

Landmark detectors jitter by a pixel or two from frame to frame, which makes
aligned crops shake. Prepare and swap see the whole shot, so the smoothing can
be non-causal: a Savitzky-Golay filter fits a quadratic over a short window,
which removes jitter yet follows constant velocity and acceleration with no
lag (a causal low-pass such as a One-Euro filter always trails fast motion).
The track is cut wherever the face jumps (a shot cut, a re-acquired face, or
a folder of unrelated stills) so that no smoothing crosses the cut.
"""

import numpy as np
from scipy.signal import savgol_filter


def track_segments(landmarks: np.ndarray, cut: float = 0.15) -> list[slice]:
    """Runs of consecutive valid frames with no jump larger than `cut` x face size.

    >>> pts = np.zeros((5, 68, 2)); pts[:, :, 0] = np.arange(68); pts[2] = np.nan
    >>> track_segments(pts)
    [slice(0, 2, None), slice(3, 5, None)]
    """
    valid = ~np.isnan(landmarks).any(axis=(1, 2))
    segments, start = [], None
    for t in range(len(landmarks)):
        if not valid[t]:
            if start is not None:
                segments.append(slice(start, t))
            start = None
            continue
        if start is not None:
            size = np.ptp(landmarks[t], axis=0).max()
            if np.linalg.norm(landmarks[t] - landmarks[t - 1], axis=1).mean() > cut * size:
                segments.append(slice(start, t))
                start = None
        if start is None:
            start = t
    if start is not None:
        segments.append(slice(start, len(landmarks)))
    return segments


def stabilise(landmarks: np.ndarray, window: int = 9, order: int = 2, cut: float = 0.15) -> np.ndarray:
    """Smooth a (T, 68, 2) landmark track; NaN frames (no face) stay NaN.

    >>> t = np.arange(30.0)
    >>> track = np.repeat((2.0 * t)[:, None, None], 68, axis=1).repeat(2, axis=2)
    >>> track[:, :, 1] += np.arange(68) * 3
    >>> noisy = track + np.random.default_rng(0).normal(0, 0.5, track.shape)
    >>> bool(np.abs(stabilise(noisy) - track).std() < 0.6 * np.abs(noisy - track).std())
    True
    """
    if landmarks.ndim != 3 or landmarks.shape[1:] != (68, 2):
        raise ValueError(f"expected a (T, 68, 2) track, got {landmarks.shape}")
    smoothed = landmarks.astype(np.float64).copy()
    for segment in track_segments(landmarks, cut):
        length = segment.stop - segment.start
        size = min(window, length if length % 2 else length - 1)
        if size > order + 1:
            smoothed[segment] = savgol_filter(smoothed[segment], size, order, axis=0, mode="interp")
    return smoothed.astype(np.float32)
