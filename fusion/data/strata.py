"""Template weights that stratify each identity's crops over its range of pose and expression.

A talking-head clip is mostly one pose and a half-open mouth; drawn
uniformly, its rare wide-open mouths and turned heads are rarely the template
a swap is trained to follow (issue 29). Each crop falls in a cell of yaw,
pitch, mouth opening and eye openness, one `fusion.metrics.coverage` unit a
side (10 degrees, 0.1 opening); weighting each crop by one over its cell's
count within its identity makes every occupied cell of an identity equally
likely, whatever its size.
"""

import numpy as np

from fusion.metrics.coverage import SCALE, points
from fusion.metrics.performance import measure_performance

__all__ = ["stratified_weights", "template_weights"]


def stratified_weights(values: np.ndarray, identity: np.ndarray) -> np.ndarray:
    """(N,) weights of crops placed at (N, 4) `values` (yaw, pitch, mouth, eyes; NaN: not measured, a cell of
    its own) with identities `identity`: one over the count of the identity's crops in the same cell.

    >>> values = np.array([[0, 0, 0.05, 0.3]] * 3 + [[0, 0, 0.45, 0.3]])
    >>> stratified_weights(values, np.zeros(4, int)).round(3).tolist()
    [0.333, 0.333, 0.333, 1.0]
    """
    cells = np.where(np.isfinite(values), np.floor(values / SCALE), np.iinfo(np.int32).min).astype(np.int64)
    keys = np.concatenate([np.asarray(identity, np.int64)[:, None], cells], axis=1)
    _, cell, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    return 1.0 / counts[cell.ravel()]


def template_weights(landmarks: np.ndarray, identity: np.ndarray) -> np.ndarray:
    """`stratified_weights` of crops with (N, 68, 2) `landmarks` (a pack's, in crop pixels: the similarity
    alignment keeps yaw, pitch and both openings)."""
    return stratified_weights(points(measure_performance(landmarks)), identity)
