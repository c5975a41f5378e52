"""Evaluation metrics with real numbers on the package photos."""

import cv2
import numpy as np
import pytest
import torch

from fusion.eval.expression import landmark_error
from fusion.eval.identity import FaceDescriber, retrieval_accuracy
from fusion.eval.reconstruction import masked_psnr, masked_ssim
from fusion.eval.temporal import temporal_ratio
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


def test_landmark_error(dlib_backend, photos):
    points = jittered_landmarks(dlib_backend, photos["hopper"], dlib_backend.detect(photos["hopper"])[0], 4)
    assert landmark_error(points, points) == 0.0
    shifted = points + [np.linalg.norm(points[45] - points[36]) * 0.1, 0]
    assert landmark_error(shifted, points) == pytest.approx(0.1, rel=1e-5)
    with pytest.raises(ValueError, match="68, 2"):
        landmark_error(points[:10], points)


def test_reconstruction_of_an_image_with_itself(photos):
    image = torch.from_numpy(photos["hopper"]).permute(2, 0, 1)[None].float() / 255
    mask = torch.zeros(1, 1, 512, 512)
    mask[..., 150:350, 170:340] = 1
    assert masked_ssim(image, image, mask).item() == pytest.approx(1.0, abs=1e-5)
    noisy = (image + 0.05 * torch.randn_like(image)).clamp(0, 1)
    assert masked_ssim(noisy, image, mask).item() < 0.9
    assert 24 < masked_psnr(noisy, image, mask).item() < 28  # sigma 0.05 -> 26 dB


def test_temporal_ratio_flags_flicker():
    rng = np.random.default_rng(0)
    plate = np.cumsum(rng.normal(0, 0.01, (6, 16, 16, 3)), axis=0) + 0.5
    masks = np.ones((6, 16, 16), bool)
    flicker = plate + rng.normal(0, 0.05, plate.shape)
    assert temporal_ratio(plate, plate, masks) == 1.0
    assert temporal_ratio(flicker, plate, masks) > 3
