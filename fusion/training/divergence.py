"""Stopping a phase whose training has diverged, instead of training on silently.

A learning rate too high for a phase does not always fail loudly: in the
clips curriculum at lr 1e-3, the 32 px phase B collapsed held-out SSIM and
never recovered, and every later phase trained on from there
(docs/measurements.md). On a cluster that is hours of GPU time
spent on a broken run. The guard watches
each validation: a non-finite training loss or held-out SSIM, or an SSIM below
`1 - drop` of the best so far at that resolution, stops the phase on every rank, and
`python train.py` then fails with what happened and how to go on
(docs/design.md (Curriculum and the DDP rule), "Divergence guard").
"""

import math

import lightning as L

from fusion.errors import UserError

__all__ = ["DivergenceGuard", "TrainingDiverged"]


class TrainingDiverged(UserError, RuntimeError):
    """A phase's training collapsed; the message says where and what to change."""


class DivergenceGuard(L.Callback):
    """Stop when `monitor` (higher is better) falls below `1 - drop` of its best at this resolution, or is non-finite.

    One guard serves a whole run: phases at the same output resolution
    (A, B, fine-tuning) share a best, so a collapse in the first interval of
    phase B is measured against phase A. A new resolution starts afresh: its
    scores are not comparable. Falls count only once the best reaches
    `min_best`: early in training a score of 0.1 halving is noise. After a
    fit, `reason` says what happened (None if nothing did).
    """

    def __init__(self, monitor: str = "val/ssim", drop: float = 0.5, min_best: float = 0.3, loss: str = "train/loss"):
        if not 0 < drop < 1:
            raise ValueError(f"drop must be a fraction in (0, 1), got {drop}")
        self.monitor, self.drop, self.min_best, self.loss = monitor, drop, min_best, loss
        self.best: dict[int, float] = {}
        self.reason: str | None = None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Clear the previous fit's `reason`; the bests per resolution carry over, one guard serving the whole run."""
        self.reason = None

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Stop the phase on every rank when the loss or `monitor` is not finite or `monitor` fell below
        `1 - drop` of its best at this resolution; otherwise update that best.
        """
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        resolution = pl_module.net.output_resolution
        value, best = float(trainer.callback_metrics[self.monitor]), self.best.get(resolution)
        loss = trainer.callback_metrics.get(self.loss)
        reason = None
        if loss is not None and not math.isfinite(float(loss)):
            reason = f"the training loss is {float(loss)}"
        elif not math.isfinite(value):
            reason = f"held-out {self.monitor} is {value}"
        elif best is not None and best >= self.min_best and value < (1 - self.drop) * best:
            reason = (f"held-out {self.monitor} fell from {best:.4f} to {value:.4f} at {resolution} px "
                      f"(more than {self.drop:.0%})")
        # Every rank sees the same synced metrics, but a stop must be agreed on or DDP hangs.
        if trainer.strategy.reduce_boolean_decision(reason is not None, all=False):
            self.reason = f"{reason or 'another rank diverged'} at step {trainer.global_step}"
            trainer.should_stop = True
        elif math.isfinite(value):
            self.best[resolution] = value if best is None else max(best, value)
