"""Expression and pose: does the swap keep the template's face shape?

Mean landmark distance between swap and template, divided by the template's
inter-ocular distance (outer eye corners 36-45), so the number means the same
at every resolution.
"""

import numpy as np


def landmark_error(swap: np.ndarray, template: np.ndarray) -> float:
    """Mean point distance of two (68, 2) landmark sets over the template's inter-ocular distance.

    >>> pts = np.random.default_rng(0).uniform(0, 100, (68, 2))
    >>> landmark_error(pts, pts)
    0.0
    """
    if swap.shape != (68, 2) or template.shape != (68, 2):
        raise ValueError(f"expected two (68, 2) landmark sets, got {swap.shape} and {template.shape}")
    inter_ocular = float(np.linalg.norm(template[45] - template[36]))
    if inter_ocular <= 0:
        raise ValueError("degenerate template landmarks: the outer eye corners coincide")
    return float(np.linalg.norm(swap - template, axis=1).mean() / inter_ocular)
