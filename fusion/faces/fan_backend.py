"""face-alignment's FAN: the accurate backend; weights download on first use.

The weights' file names are taken from face-alignment's own URL tables so that
`weights_available` stays right when the package updates its models.
"""

import os
from pathlib import Path
from urllib.parse import urlparse

import numpy as np


def _weight_files() -> list[Path]:
    import torch.hub
    from face_alignment import api
    from face_alignment.detection.sfd import sfd_detector

    urls = [api.models_urls["2DFAN-4"], sfd_detector.models_urls["s3fd"]]
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    return [folder / os.path.basename(urlparse(url).path) for url in urls]


def weights_available() -> bool:
    """True when FAN's and its S3FD detector's weights are already downloaded."""
    return all(path.is_file() for path in _weight_files())


class FanBackend:
    """S3FD detection and 2D-FAN landmarks through face-alignment's public API."""

    name = "fan"

    def __init__(self, device: str = "cpu"):
        import face_alignment

        # torch.compile made conv nets slower on our CPUs; flip_input doubles
        # the cost for a small accuracy gain that stabilisation gives anyway.
        self._model = face_alignment.FaceAlignment(
            face_alignment.LandmarksType.TWO_D, device=device, flip_input=False, compile=False)

    def detect(self, image: np.ndarray) -> list[np.ndarray]:
        """S3FD's face boxes (x0, y0, x1, y1) in an 8-bit RGB image, as `LandmarkBackend` asks."""
        boxes = self._model.face_detector.detect_from_image(image.copy())
        return [np.asarray(b[:4], np.float64) for b in boxes]

    def landmarks(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        """2D-FAN's (68, 2) float32 points of the face in the given `box` (no second detection)."""
        points = self._model.get_landmarks_from_image(image, detected_faces=[np.asarray(box, np.float64)])
        return np.asarray(points[0][:, :2], np.float32)
