"""The triplet sampler: identities equally likely whatever their frame counts, ranks slicing one batch."""

import numpy as np

from fusion.data.triplets import TripletSampler


def test_an_actor_with_a_tenth_of_the_frames_is_a_source_as_often_as_the_others():
    identity = np.random.default_rng(0).permutation(np.repeat([0, 1, 2], [40, 400, 400]))  # one filmed a tenth as long
    sampler = TripletSampler(identity, batch_size=8, seed=3, p_self=0.5)
    sources = np.array([source for step in range(2000) for source, _ in sampler.batch(step)])
    counts = np.bincount(identity[sources], minlength=3)
    expected, sd = 16000 / 3, np.sqrt(16000 * (1 / 3) * (2 / 3))
    assert np.all(np.abs(counts - expected) < 4 * sd), counts  # drawn over crops, actor 0 had 40/840: ~760
    assert len(np.unique(sources[identity[sources] == 0])) == 40  # every one of the short actor's crops is used


def test_ranks_take_slices_of_the_same_global_batch():
    identity = np.repeat([0, 1], [5, 50])
    whole = TripletSampler(identity, batch_size=8, seed=1, p_self=0.5).batch(7)
    halves = [TripletSampler(identity, batch_size=8, seed=1, p_self=0.5, rank=r, world_size=2).batch(7) for r in (0, 1)]
    assert halves[0] + halves[1] == whole
