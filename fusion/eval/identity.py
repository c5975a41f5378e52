"""Identity: dlib's 128-D face descriptor (the ResNet shipped by face-recognition-models).

Descriptors of one person lie within ~0.6 of each other (dlib's own
threshold); a swap of A into B's plate should land near A's centroid.
"""

import dlib
import numpy as np

from fusion.faces.dlib_backend import model_file


class FaceDescriber:
    """128-D descriptors of faces given by their 68 landmarks."""

    def __init__(self):
        self._net = dlib.face_recognition_model_v1(str(model_file("dlib_face_recognition_resnet_model_v1.dat")))

    def describe(self, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """Descriptor of the face with these (68, 2) landmarks in an 8-bit RGB image."""
        x0, y0 = landmarks.min(0)
        x1, y1 = landmarks.max(0)
        rect = dlib.rectangle(int(x0), int(y0), int(x1), int(y1))
        parts = [dlib.point(int(round(x)), int(round(y))) for x, y in landmarks]
        shape = dlib.full_object_detection(rect, parts)
        return np.array(self._net.compute_face_descriptor(np.ascontiguousarray(image), shape), np.float32)


def retrieval_accuracy(descriptors: np.ndarray, centroids: np.ndarray, expected: np.ndarray) -> float:
    """Share of descriptors whose nearest centroid is the expected identity.

    >>> retrieval_accuracy(np.array([[0, 0], [1, 1.0]]), np.array([[0, 0], [1, 1.0]]), np.array([0, 0]))
    0.5
    """
    distances = np.linalg.norm(descriptors[:, None] - centroids[None], axis=2)
    return float((distances.argmin(1) == expected).mean())
