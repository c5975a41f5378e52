"""Face descriptors on the package photos: distances separate people, retrieval finds them."""

import cv2
import numpy as np
import pytest

from fusion.eval.identity import FaceDescriber, retrieval_accuracy
from fusion.faces.landmarks import jittered_landmarks


@pytest.fixture(scope="module")
def describer():
    return FaceDescriber()


def describe(describer, backend, image):
    points = jittered_landmarks(backend, image, backend.detect(image)[0], 4)
    return describer.describe(image, points)


def test_descriptor_distances_separate_people(describer, dlib_backend, photos):
    hopper, astronaut = photos["hopper"], photos["astronaut"]
    moved = cv2.warpAffine(hopper, cv2.getRotationMatrix2D((256, 256), 6, 1.05), (512, 512))
    moved = np.clip(moved.astype(np.float32) * 1.1 + 5, 0, 255).astype(np.uint8)
    a, b, c = (describe(describer, dlib_backend, image) for image in (hopper, moved, astronaut))
    assert a.shape == (128,)
    assert np.linalg.norm(a - b) < 0.6, np.linalg.norm(a - b)  # the same person, jittered
    assert np.linalg.norm(a - c) > 0.6, np.linalg.norm(a - c)  # two different people
    assert retrieval_accuracy(np.stack([b, c]), np.stack([a, c]), np.array([0, 1])) == 1.0
