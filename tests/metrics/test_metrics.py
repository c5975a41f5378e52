"""fusion.metrics with real numbers on the package photos: landmark error, masked SSIM/PSNR, temporal ratio."""

import numpy as np
import pytest
import torch

from fusion.faces.landmarks import jittered_landmarks
from fusion.metrics.expression import landmark_error
from fusion.metrics.reconstruction import masked_psnr, masked_ssim
from fusion.metrics.temporal import FrameChange, TemporalRatio, temporal_ratio


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


def _drifting_face(photo: np.ndarray, frames: int) -> np.ndarray:
    """(frames, 64, 64, 3) float: a photo at 64 px drifting 1 px a frame, a clip's slow motion."""
    import cv2

    small = cv2.resize(photo, (64, 64), interpolation=cv2.INTER_AREA) / np.float32(255)
    return np.stack([np.roll(small, t, axis=1) for t in range(frames)])


def test_flicker_is_measured_within_each_source_not_across_the_cut(photos):
    """Two clips' held-out tails joined, as evaluate reads them: the ratio is that of the pairs inside each clip,
    computed here by hand; pairing across the cut (a change of face in swap and plate alike) pulled it toward 1."""
    plate = np.concatenate([_drifting_face(photos["astronaut"], 4), _drifting_face(photos["hopper"], 4)])
    swap = plate + np.random.default_rng(0).normal(0, 0.05, plate.shape)  # the swap flickers
    masks = np.ones(plate.shape[:3], bool)
    at = [("astronaut.mp4", 20 + t) for t in range(4)] + [("take 2", 40 + t) for t in range(4)]

    def within_clips(frames: np.ndarray) -> float:
        changes = [np.abs(np.diff(clip, axis=0)).mean(-1) for clip in (frames[:4], frames[4:])]
        return float(np.concatenate(changes).mean())

    by_clip = within_clips(swap) / within_clips(plate)
    ratio, joined = temporal_ratio(swap, plate, masks, at), temporal_ratio(swap, plate, masks)
    assert ratio == pytest.approx(by_clip, rel=1e-6)
    assert 0 < joined - 1 < 0.7 * (ratio - 1)  # one pair across the cut hid a third of the flicker (1.22, 1.34)
    batched = TemporalRatio()
    for start, stop in ((0, 3), (3, 5), (5, 8)):  # one batch ends inside the first clip, one starts inside the second
        batched.add(swap[start:stop], plate[start:stop], masks[start:stop], at[start:stop])
    assert batched.value() == ratio and batched.pairs == 6


def test_a_gap_of_dropped_frames_is_not_paired(photos):
    """Frames 3 and 4 had no face and were dropped: 2 and 5 are not a pair, in one batch or split at the gap."""
    clip = _drifting_face(photos["hopper"], 7)
    kept = [0, 1, 2, 5, 6]
    frames, masks, at = clip[kept], np.ones((5, 64, 64), bool), [("take1", f) for f in kept]
    pairs = [(0, 1), (1, 2), (3, 4)]  # rows of `frames`
    expected = float(np.mean([np.abs(frames[b] - frames[a]).mean() for a, b in pairs]))
    whole = FrameChange().add(frames, masks, at)
    assert whole.pairs == 3 and whole.value() == pytest.approx(expected, rel=1e-6)
    split = FrameChange().add(frames[:3], masks[:3], at[:3]).add(frames[3:], masks[3:], at[3:])
    assert split.value() == whole.value()
    with pytest.raises(ValueError, match="two frames"):  # 2 then 5: nothing to pair
        FrameChange().add(frames[2:4], masks[2:4], at[2:4]).value()
