"""Expression and pose: does the swap keep the template's face shape?

Mean landmark distance between swap and template, divided by the template's
inter-ocular distance (outer eye corners 36-45), so the number means the same
at every resolution. Split by `REGIONS`, it says where a swap departs from the
plate: the jaw mostly follows the matte's edge (the plate's outline or the
new face's), the eyes, brows and mouth the decoder's expression.
"""

import numpy as np

#: The 68-point layout's regions, as index ranges.
REGIONS = {"jaw": range(0, 17), "brows": range(17, 27), "nose": range(27, 36), "eyes": range(36, 48),
           "mouth": range(48, 68)}


def landmark_error(swap: np.ndarray, template: np.ndarray) -> float:
    """Mean point distance of two (68, 2) landmark sets over the template's inter-ocular distance.

    >>> pts = np.random.default_rng(0).uniform(0, 100, (68, 2))
    >>> landmark_error(pts, pts)
    0.0
    """
    return float(point_errors(swap, template).mean())


def point_errors(swap: np.ndarray, template: np.ndarray) -> np.ndarray:
    """(68,) distances of two (68, 2) landmark sets' points over the template's inter-ocular distance."""
    if swap.shape != (68, 2) or template.shape != (68, 2):
        raise ValueError(f"expected two (68, 2) landmark sets, got {swap.shape} and {template.shape}")
    inter_ocular = float(np.linalg.norm(template[45] - template[36]))
    if inter_ocular <= 0:
        raise ValueError("degenerate template landmarks: the outer eye corners coincide")
    return np.linalg.norm(swap - template, axis=1) / inter_ocular


def landmark_error_by_region(swap: np.ndarray, template: np.ndarray) -> dict[str, float]:
    """`landmark_error` within each of `REGIONS`.

    >>> template = np.random.default_rng(0).uniform(0, 100, (68, 2))
    >>> swap = template.copy()
    >>> swap[48:68, 1] += np.linalg.norm(template[45] - template[36])  # the mouth one inter-ocular distance down
    >>> landmark_error_by_region(swap, template)
    {'jaw': 0.0, 'brows': 0.0, 'nose': 0.0, 'eyes': 0.0, 'mouth': 1.0}
    """
    errors = point_errors(swap, template)
    return {name: float(errors[list(points)].mean()) for name, points in REGIONS.items()}
