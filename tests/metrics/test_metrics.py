"""fusion.metrics with real numbers on the package photos: landmark error, masked SSIM/PSNR, temporal ratio."""

import numpy as np
import pytest
import torch

from fusion.faces.landmarks import jittered_landmarks
from fusion.metrics.expression import landmark_error
from fusion.metrics.reconstruction import masked_psnr, masked_ssim
from fusion.metrics.temporal import TemporalRatio, temporal_ratio


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


def test_temporal_ratio_in_batches_equals_whole():
    rng = np.random.default_rng(1)
    plate = np.cumsum(rng.normal(0, 0.01, (7, 16, 16, 3)), axis=0) + 0.5
    swap = plate + rng.normal(0, 0.05, plate.shape)
    masks = rng.uniform(size=(7, 16, 16)) > 0.2
    batched = TemporalRatio()
    for start in range(0, 7, 3):
        batched.add(swap[start:start + 3], plate[start:start + 3], masks[start:start + 3])
    assert batched.value() == temporal_ratio(swap, plate, masks)
    with pytest.raises(ValueError, match="two frames"):
        TemporalRatio().add(swap[:1], plate[:1], masks[:1]).value()


def test_masked_ssim_of_an_image_does_not_depend_on_its_batch():
    generator = torch.Generator().manual_seed(0)
    faces, targets = torch.rand(2, 4, 3, 64, 64, generator=generator)
    masks = (torch.rand(4, 1, 64, 64, generator=generator) > 0.3).float()
    faces = faces.contiguous(memory_format=torch.channels_last)  # as the network decodes them
    together = masked_ssim(faces, targets, masks)
    alone = torch.cat([masked_ssim(faces[i:i + 1], targets[i:i + 1], masks[i:i + 1]) for i in range(4)])
    assert torch.equal(together, alone)
