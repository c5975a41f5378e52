"""FaceLoss's landmark weighting: an error on a feature counts 1 + its weight times; elsewhere nothing changes."""

import torch

from fusion.training.losses import FaceLoss, LossWeights


def test_an_error_on_the_mouth_weighs_one_plus_its_weight():
    target, mask = torch.zeros(1, 3, 32, 32), torch.ones(1, 1, 32, 32)
    features = torch.zeros(1, 3, 32, 32)
    features[:, 2, 20:26, 10:22] = 1  # the mouth map: 72 of 1024 pixels
    on_mouth = target.clone()
    on_mouth[..., 20:26, 10:22] = 0.5
    plain = FaceLoss(LossWeights(ssim=0.0, l1=1.0))
    weighted = FaceLoss(LossWeights(ssim=0.0, l1=1.0, mouth=3.0))
    assert plain(on_mouth, target, mask, features)["l1"].item() == 0.5 * 72 / 1024
    torch.testing.assert_close(weighted(on_mouth, target, mask, features)["l1"],
                               torch.tensor(0.5 * 4 * 72 / (1024 + 3 * 72)))
    on_cheek = target.clone()
    on_cheek[..., 2:8, 2:14] = 0.5  # the same error away from every feature now weighs less than before
    assert weighted(on_cheek, target, mask, features)["l1"] < plain(on_cheek, target, mask, features)["l1"]
    assert torch.equal(weighted(on_cheek, target, mask)["l1"], plain(on_cheek, target, mask)["l1"])  # no maps: as before
