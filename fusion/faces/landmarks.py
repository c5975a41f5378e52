"""Landmark backends behind one interface: 68 points in the iBUG order.

`fan` (face-alignment) is the more accurate one but downloads its weights on
first use; `dlib` uses the predictor shipped inside `face-recognition-models`
and works offline. `auto` takes `fan` when its weights are already on disk.
"""

import logging
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from fusion.errors import check_choice

log = logging.getLogger(__name__)

#: The landmark backends: dlib (offline), fan (face-alignment, downloaded weights), auto (fan if present).
LANDMARK_BACKENDS = ("dlib", "fan", "auto")

#: Fractional box shifts/scales for the paper's jittered re-detection: the
#: landmark predictor runs on each perturbed box and the results are averaged,
#: which cancels the predictor's dependence on the exact detector box.
JITTER_PATTERN = np.array([
    (0.0, 0.0, 1.0), (0.03, 0.0, 1.0), (-0.03, 0.0, 1.0), (0.0, 0.03, 1.0),
    (0.0, -0.03, 1.0), (0.0, 0.0, 1.04), (0.0, 0.0, 0.96), (0.02, 0.02, 1.02),
])


@dataclass
class Face:
    """A detected face: box (x0, y0, x1, y1) in pixels and (68, 2) landmarks."""

    box: np.ndarray
    landmarks: np.ndarray

    @property
    def size(self) -> float:
        """Face size in pixels: the larger side of the landmarks' bounding box."""
        return float(np.max(self.landmarks.max(0) - self.landmarks.min(0)))


class LandmarkBackend(Protocol):
    """What prepare and swap ask of a landmark backend: face boxes, then 68 iBUG points per box.

    `name` is stored with caches and checkpoints, so a swap finds landmarks the way its crops were made.
    """

    name: str

    def detect(self, image: np.ndarray) -> list[np.ndarray]:
        """Face boxes (x0, y0, x1, y1) in an 8-bit RGB image."""

    def landmarks(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        """(68, 2) float32 landmarks of the face in `box`."""


def jittered_landmarks(backend: LandmarkBackend, image: np.ndarray, box: np.ndarray, count: int) -> np.ndarray:
    """Mean landmarks over `count` perturbed boxes (count <= 1: the box alone).

    >>> class Centre:
    ...     def landmarks(self, image, box):
    ...         return np.tile([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], (68, 1))
    >>> jittered_landmarks(Centre(), None, np.array([0, 0, 100, 100.0]), 3)[0].round(2).tolist()
    [50.0, 50.0]
    """
    if count > len(JITTER_PATTERN):
        raise ValueError(f"jitter count {count} exceeds the {len(JITTER_PATTERN)} boxes of JITTER_PATTERN")
    box = np.asarray(box, np.float64)
    centre, extent = (box[:2] + box[2:]) / 2, box[2:] - box[:2]
    results = []
    for dx, dy, scale in JITTER_PATTERN[: max(count, 1)]:
        c = centre + np.array([dx, dy]) * extent
        half = extent * scale / 2
        results.append(backend.landmarks(image, np.concatenate([c - half, c + half])))
    return np.mean(results, axis=0).astype(np.float32)


def resolve_backend(name: str) -> str:
    """The backend `name` stands for: `auto` becomes fan if its weights are on disk, else dlib."""
    from fusion.faces import fan_backend

    if name != "auto":
        return name
    chosen = "fan" if fan_backend.weights_available() else "dlib"
    log.info("landmarks=auto chose %s (%s)", chosen,
             "face-alignment weights found" if chosen == "fan" else "face-alignment weights not downloaded; using the offline dlib predictor")
    return chosen


def load_backend(name: str, **options) -> LandmarkBackend:
    """Build a backend by name: `dlib`, `fan` or `auto` (see `resolve_backend`)."""
    from fusion.faces import dlib_backend, fan_backend

    check_choice("landmarks", name, LANDMARK_BACKENDS)
    if resolve_backend(name) == "fan":
        return fan_backend.FanBackend(**options)
    return dlib_backend.DlibBackend(**options)
