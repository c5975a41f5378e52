"""Evaluation metrics with real numbers on the package photos; `evaluate` in batches."""

from dataclasses import asdict

import cv2
import numpy as np
import pytest
import torch

from fusion.metrics.expression import landmark_error
from fusion.eval.identity import FaceDescriber, retrieval_accuracy
from fusion.metrics.reconstruction import masked_psnr, masked_ssim
from fusion.data.cache import CacheSettings
from fusion.errors import ConfigError
from fusion.metrics.temporal import TemporalRatio, temporal_ratio
from fusion.faces.landmarks import jittered_landmarks
from fusion.io.image import read_image
from fusion.swap.loader import SwapModel


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


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """(checkpoint, cache): tests/test_swap.py's evaluate setup, 2 held-out frames per identity."""
    from fusion.data.prepare import PrepareOptions, prepare
    from fusion.demo.footage import make_demo_footage
    from fusion.model.checkpoint import save_untrained

    root = tmp_path_factory.mktemp("demo")
    footage = make_demo_footage(root / "footage", frames=20)
    settings = CacheSettings(resolution=64, landmarks="dlib")
    prepare(footage, root / "cache", settings, PrepareOptions(contact_sheet=0))
    checkpoint = save_untrained(root / "last.ckpt", ["astronaut", "hopper"],
                                {"resolution": 32, "width_multiplier": 0.125}, asdict(settings))
    return checkpoint, root / "cache"


def test_evaluate_in_batches_equals_one_batch(demo, tmp_path, monkeypatch):
    """Frame by frame gives the metrics and sheet of one batch, and never holds more than a batch as float."""
    import fusion.eval.evaluate as module

    checkpoint, cache = demo
    sizes = {"decode": [], "to_float": []}
    decode, to_float = SwapModel.decode, module.to_float

    def frame_by_frame(model, crops, identity):
        """The network one frame at a time: its convolutions round the last float32 bits differently per
        batch size, and what is tested here is that evaluate's batching changes nothing else."""
        sizes["decode"].append(len(crops))
        return torch.cat([decode(model, crop[None], identity) for crop in crops])

    def spy_to_float(images):
        sizes["to_float"].append(len(images))
        return to_float(images)

    monkeypatch.setattr(SwapModel, "decode", frame_by_frame)
    monkeypatch.setattr(module, "to_float", spy_to_float)
    whole = module.evaluate(checkpoint, cache, tmp_path / "whole", device="cpu", batch_size=16)
    assert sizes == {"decode": [2] * 4, "to_float": [2] * 2}  # one batch per identity, decoded by each identity
    for calls in sizes.values():
        calls.clear()
    batched = module.evaluate(checkpoint, cache, tmp_path / "batched", device="cpu", batch_size=1)
    assert sizes == {"decode": [1] * 8, "to_float": [1] * 4}  # each frame read once
    assert batched == whole and batched["swaps"]["astronaut->hopper"]["temporal_ratio"] is not None
    whole_dir, batched_dir = tmp_path / "whole", tmp_path / "batched"
    assert (batched_dir / "metrics.json").read_text() == (whole_dir / "metrics.json").read_text()
    assert np.array_equal(read_image(batched_dir / "contact_sheet.png"), read_image(whole_dir / "contact_sheet.png"))
    with pytest.raises(ConfigError, match="batch_size=0"):
        module.evaluate(checkpoint, cache, tmp_path / "none", batch_size=0)
