"""Following one face through a sequence: detection, choice, landmarks.

Shared by `prepare` and the swap so both see faces the same way: the face
continuing the previous frame's track is kept (else the largest), and its
landmarks are averaged over jittered boxes.
"""

import contextlib

import numpy as np

from fusion.faces.landmarks import LandmarkBackend, jittered_landmarks
from fusion.faces.select import choose_face
from fusion.stopwatch import Stopwatch


class FaceTracker:
    """Follows one face through a sequence: per frame, detect, keep the face continuing the track (else
    the largest) and average its landmarks over `jitter` boxes; `watch` times detection and landmarks.

    Shared by `prepare` and the swap, so both see faces the same way.
    """

    def __init__(self, backend: LandmarkBackend, jitter: int = 4, watch: Stopwatch | None = None):
        self.backend, self.jitter, self.watch = backend, jitter, watch
        self.previous: np.ndarray | None = None

    def _timed(self, stage: str):
        return self.watch(stage) if self.watch else contextlib.nullcontext()

    def __call__(self, image8: np.ndarray) -> tuple[int, np.ndarray | None]:
        """(faces found, (68, 2) landmarks of the kept face or None) for an 8-bit RGB frame."""
        with self._timed("detect"):
            boxes = self.backend.detect(image8)
        if not boxes:
            self.previous = None
            return 0, None
        self.previous = boxes[choose_face(boxes, self.previous)]
        with self._timed("landmarks"):
            return len(boxes), jittered_landmarks(self.backend, image8, self.previous, self.jitter)
