"""dlib's HOG face detector and 68-point shape predictor: the offline backend.

The predictor file ships inside the `face-recognition-models` package; it is
found by path so that the package's `pkg_resources` import is never run.
"""

import importlib.util
from pathlib import Path

import cv2
import dlib
import numpy as np


def model_file(name: str) -> Path:
    """Path of a model shipped by `face-recognition-models` (e.g. the 68-point predictor)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise ImportError("face-recognition-models is not installed; run: pip install face-recognition-models")
    path = Path(spec.origin).parent / "models" / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall face-recognition-models")
    return path


class DlibBackend:
    """HOG detection on a downscaled copy, landmarks at full resolution.

    Detection dominates the cost and the HOG detector still finds faces of
    moderate size on a shrunk frame (docs/measurements.md), so frames
    are shrunk to `detect_size` for detection only; the predictor then sees
    full detail.
    A frame with no face found that way is searched again on larger copies,
    at full size and then upsampled, so small faces cost time only where they occur.
    """

    name = "dlib"

    def __init__(self, detect_size: int = 320, upsample: int = 0):
        self.detect_size = detect_size
        self.upsample = upsample
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(model_file("shape_predictor_68_face_landmarks.dat")))

    def detect(self, image: np.ndarray) -> list[np.ndarray]:
        """Face boxes (x0, y0, x1, y1) in frame pixels: on the shrunk copy first, then on copies twice as large
        up to full size, then upsampled, so a face costs the smallest copy it is found on (in a 4K frame a face
        too small for the first copy is found on the second or third, at a fraction of a full-size search).
        """
        scales = [min(1.0, self.detect_size / max(image.shape[:2]))]
        while scales[-1] < 1.0:
            scales.append(min(1.0, 2 * scales[-1]))
        for scale, upsample in [(scale, self.upsample) for scale in scales] + [(1.0, self.upsample + 1)]:
            small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
            rects = self._detector(np.ascontiguousarray(small), upsample)
            if rects:
                return [np.array([r.left(), r.top(), r.right(), r.bottom()], np.float64) / scale for r in rects]
        return []

    def landmarks(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        """dlib's (68, 2) float32 iBUG points of the face in `box`, predicted on the full-resolution frame."""
        rect = dlib.rectangle(*(int(round(v)) for v in box))
        shape = self._predictor(np.ascontiguousarray(image), rect)
        return np.array([(p.x, p.y) for p in shape.parts()], np.float32)
