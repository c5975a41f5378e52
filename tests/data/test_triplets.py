"""The triplet sampler: identities equally likely whatever their frame counts, ranks slicing one batch, templates
stratified over pose and expression on request."""

import numpy as np
import pytest
from omegaconf import OmegaConf

from fusion.data.strata import stratified_weights, template_weights
from fusion.data.triplets import TripletSampler
from fusion.errors import ConfigError
from fusion.instantiate import build
from fusion.training.schedule import phases


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


def test_stratified_templates_draw_a_rare_wide_open_mouth_as_often_as_the_common_talking_one():
    """Identity 0: 90 crops of a talking mouth (opening 0.15), 10 wide open (0.45), shuffled; identity 1: 50
    alike. Weighted by `stratified_weights`, identity 0's templates are the wide-open ones about half the time
    (uniformly a tenth); the sources are the very ones the uniform sampler draws."""
    rng = np.random.default_rng(0)
    identity = rng.permutation(np.repeat([0, 1], [100, 50]))
    mouth = np.where(identity == 0, 0.15, 0.25)
    mouth[np.flatnonzero(identity == 0)[:10]] = 0.45
    values = np.stack([np.zeros(150), np.zeros(150), mouth, np.full(150, 0.3)], axis=1)
    weights = stratified_weights(values, identity)
    uniform = TripletSampler(identity, batch_size=8, seed=5, p_self=0.0)
    stratified = TripletSampler(identity, batch_size=8, seed=5, p_self=0.0, template_weights=weights)
    draws = {name: np.array([item for step in range(1500) for item in sampler.batch(step)])
             for name, sampler in (("uniform", uniform), ("stratified", stratified))}
    np.testing.assert_array_equal(draws["stratified"][:, 0], draws["uniform"][:, 0])
    for name, expected in (("uniform", 0.1), ("stratified", 0.5)):
        templates = draws[name][:, 1]
        of_zero = templates[identity[templates] == 0]
        assert abs((mouth[of_zero] == 0.45).mean() - expected) < 0.03, name
        assert abs((identity[templates] == 0).mean() - 0.5) < 0.03, name  # identities stay equally likely
    assert len(np.unique(draws["stratified"][:, 1])) == 150  # every crop still a template now and then


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


@pytest.mark.parametrize("sampling", ["uniform", "stratified"])
def test_data_template_sampling_reaches_the_sampler_of_a_real_pack(demo_cache, compose, fast_overrides, sampling):
    """`data.template_sampling` on the demo cache: stratified weights come from the pack's own landmarks
    (positive, finite, the rarer cells heavier); a mistyped choice is refused naming the key."""
    cfg = compose("train", [*fast_overrides, f"data.template_sampling={sampling}"], root=demo_cache)
    datamodule = build(cfg.data, _convert_="all")
    datamodule.phase = phases(OmegaConf.to_object(cfg.curriculum))[0]
    datamodule.prepare_data()
    datamodule.setup("fit")
    sampler = datamodule.train_dataloader().batch_sampler
    assert (sampler._template_cdf is None) == (sampling == "uniform") and len(sampler.batch(0)) > 0
    if sampling == "stratified":
        weights = template_weights(datamodule.train_pack.landmarks, datamodule.train_pack.identity)
        assert np.isfinite(weights).all() and weights.max() <= 1 and weights.min() < weights.max()
    with pytest.raises(ConfigError, match="data.template_sampling=even: choose one of uniform, stratified"):
        build(compose("train", [*fast_overrides, "data.template_sampling=even"], root=demo_cache).data, _convert_="all")
