"""Masked MS-SSIM: torchmetrics' MS-SSIM without a mask, and blind to what lies outside one."""

import kornia
import pytest
import torch
from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

from fusion.metrics.ms_ssim import masked_ms_ssim


@pytest.fixture
def pair():
    torch.manual_seed(0)
    target = kornia.filters.gaussian_blur2d(torch.rand(2, 3, 192, 192), (3, 3), (0.8, 0.8))
    prediction = (kornia.filters.gaussian_blur2d(target, (5, 5), (1.0, 1.0)) + 0.03 * torch.randn_like(target))
    return prediction.clamp(0, 1), target


def test_unmasked_it_is_torchmetrics_ms_ssim(pair):
    prediction, target = pair
    reference = multiscale_structural_similarity_index_measure(prediction, target, data_range=1.0, reduction="none",
                                                               normalize=None)
    ours = masked_ms_ssim(prediction, target, torch.ones(2, 1, 192, 192))
    torch.testing.assert_close(ours, reference, atol=2e-5, rtol=0)
    assert 0.5 < ours.min() < 0.99  # a real difference, not a trivial 1


def test_what_lies_outside_the_mask_barely_counts(pair):
    """Only the coarsest scales' windows (11 px at 1/16 size) reach from the face to the spoiled band."""
    prediction, target = pair
    mask = torch.zeros(2, 1, 192, 192)
    mask[..., 48:144, 48:144] = 1
    spoiled = prediction.clone()
    spoiled[..., :24, :] = 1 - spoiled[..., :24, :]
    before, after = masked_ms_ssim(prediction, target, mask), masked_ms_ssim(spoiled, target, mask)
    unmasked = masked_ms_ssim(prediction, target, torch.ones_like(mask))
    unmasked_spoiled = masked_ms_ssim(spoiled, target, torch.ones_like(mask))
    assert ((before - after).abs() < 0.005).all() and ((unmasked - unmasked_spoiled) > 0.05).all()


def test_gradients_reach_the_prediction(pair):
    prediction, target = pair
    prediction = prediction.clone().requires_grad_(True)
    (1 - masked_ms_ssim(prediction, target, torch.ones(2, 1, 192, 192))).mean().backward()
    assert prediction.grad.abs().sum() > 0 and torch.isfinite(prediction.grad).all()


def test_the_loss_takes_it_from_128px_inside_the_dilated_mask():
    from fusion.training.losses import FaceLoss, LossWeights

    loss = FaceLoss(LossWeights(ssim=0.0, l1=0.0, ms_ssim=1.0))
    torch.manual_seed(1)
    for size, present in ((64, False), (128, True)):
        target = torch.rand(1, 3, size, size)
        terms = loss(target.flip(-1), target, torch.ones(1, 1, size, size))
        assert ("ms_ssim" in terms) is present
    assert terms["loss"] == terms["ms_ssim"] and 0.5 < terms["ms_ssim"] <= 1  # a mirrored noise image: no structure kept
