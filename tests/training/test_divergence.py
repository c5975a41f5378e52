"""The divergence guard: a collapse of held-out SSIM or a non-finite loss stops training; noise does not."""

import torch


def _validate(guard, ssim: float, resolution: int = 32, loss: float = 0.5, step: int = 10):
    """One validation end as Lightning calls it, on a single process."""
    from types import SimpleNamespace

    trainer = SimpleNamespace(sanity_checking=False, global_step=step, should_stop=False,
                              callback_metrics={"val/ssim": torch.tensor(ssim), "train/loss": torch.tensor(loss)},
                              strategy=SimpleNamespace(reduce_boolean_decision=lambda decision, all: decision))
    guard.on_validation_end(trainer, SimpleNamespace(net=SimpleNamespace(output_resolution=resolution)))
    return trainer.should_stop


def test_divergence_guard_stops_on_a_collapse_not_on_noise():
    from fusion.training.divergence import DivergenceGuard

    guard = DivergenceGuard(drop=0.5, min_best=0.3)
    assert not any(_validate(guard, s) for s in (0.2, 0.08, 0.5, 0.78, 0.6, 0.45))  # 0.2 -> 0.08: below min_best
    assert not _validate(guard, 0.2, resolution=64)  # a new resolution starts afresh
    assert _validate(guard, 0.17, step=40)  # the clips_quick collapse: 0.78 -> 0.17 at 32 px
    assert guard.reason == "held-out val/ssim fell from 0.7800 to 0.1700 at 32 px (more than 50%) at step 40"
    assert _validate(DivergenceGuard(), 0.5, loss=float("nan"))
    assert _validate(DivergenceGuard(), float("nan"))
