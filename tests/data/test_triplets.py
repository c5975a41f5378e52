"""The triplet sampler: identities equally likely whatever their frame counts, ranks slicing one batch."""

import numpy as np

from fusion.data.triplets import TripletSampler


def test_an_actor_with_a_tenth_of_the_frames_is_a_source_as_often_as_the_others():
    identity = np.random.default_rng(0).permutation(np.repeat([0, 1, 2], [40, 400, 400]))  # one filmed a tenth as long
    sampler = TripletSampler(identity, batch_size=8, seed=3, p_self=0.5)
    drawn = np.array([item for step in range(2000) for item in sampler.batch(step)])
    sources, varied = drawn[:, 0], drawn[:, 2] >= 0
    counts = np.bincount(identity[sources], minlength=3)
    expected, sd = 16000 / 3, np.sqrt(16000 * (1 / 3) * (2 / 3))
    assert np.all(np.abs(counts - expected) < 4 * sd), counts  # drawn over crops, actor 0 had 40/840: ~760
    assert len(np.unique(sources[identity[sources] == 0])) == 40  # every one of the short actor's crops is used
    short = identity[sources] == 0
    assert abs(varied[short].mean() - 0.9) < 0.03 and not varied[~short].any()  # 1 - 40/400 of its draws varied


def test_ranks_take_slices_of_the_same_global_batch():
    identity = np.repeat([0, 1], [5, 50])
    whole = TripletSampler(identity, batch_size=8, seed=1, p_self=0.5).batch(7)
    halves = [TripletSampler(identity, batch_size=8, seed=1, p_self=0.5, rank=r, world_size=2).batch(7) for r in (0, 1)]
    assert halves[0] + halves[1] == whole


def test_a_varied_draw_moves_mask_and_feature_maps_with_the_face(photos):
    """A real face: after the flip, rotation and shift, the mask still covers the same face pixels."""
    import cv2

    from fusion.data.augment import jitter_source
    from fusion.io.image import to_unit

    image = cv2.resize(to_unit(photos["hopper"]), (128, 128), interpolation=cv2.INTER_AREA)
    mask = np.zeros((128, 128), np.float32)
    cv2.ellipse(mask, (64, 60), (30, 40), 0, 0, 360, 1.0, -1)
    marked = image.copy()
    marked[mask > 0.5] = [1, 0, 1]  # paint the masked region so it can be found after the warp
    changed = 0
    for seed in range(8):
        out, moved, features = jitter_source(marked, mask, np.stack([mask] * 3, -1), seed)
        painted = (out[..., 1] < 0.15) & (out[..., 0] > 0.7) & (out[..., 2] > 0.7)
        assert (painted ^ (moved > 0.5)).mean() < 0.02 and np.abs(features[..., 0] - moved).max() < 1e-6
        changed += np.abs(moved - mask).mean() > 0.005
        assert out.min() >= 0 and out.max() <= 1
    assert changed >= 6  # the draws really vary the crop
