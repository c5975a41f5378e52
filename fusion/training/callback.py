"""The curriculum callback: puts network, optimizer settings and data in a phase.

It acts in `setup`, which Lightning runs before it restores a checkpoint and
before it wraps the model in DDP. Growing and freezing there (one fit per
phase) means DDP always wraps exactly the parameters that train, so ranks
cannot drift (docs/design.md (The DDP trap)), and a resumed fit restores weights into
a network already grown to the checkpoint's depth.
"""

import lightning as L

from fusion.training.schedule import Phase

def enter_phase(module, phase: Phase) -> None:
    """Grow `module.net` to the phase's depth and set what trains."""
    net = module.net
    if tuple(net.growth) != phase.growth[: net.depth]:
        raise ValueError(f"network growth {net.growth} is not a prefix of {phase.label}'s {list(phase.growth)}")
    for kind in phase.growth[net.depth:]:
        net.grow(kind)
        if module.net_ema is not None:
            # Seeded by depth, so the average's new level starts equal to the net's.
            module.net_ema.grow(kind)
            module.net_ema.requires_grad_(False)
    module.ema_steps.zero_()
    for parameter in net.parameters():
        parameter.requires_grad_(not phase.newest_only)
    if phase.newest_only:
        for parameter in net.newest_parameters():
            parameter.requires_grad_(True)
    net.alpha = 0.0 if phase.fade_steps else 1.0
    module.lr = phase.lr
    module.phase = phase


class CurriculumCallback(L.Callback):
    """Puts the module in one phase at the start of its fit, and fades the new level in over its first steps."""

    def __init__(self, phase: Phase):
        self.phase = phase

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        """Grow and freeze before Lightning restores a checkpoint or wraps the model in DDP."""
        enter_phase(pl_module, self.phase)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        """The fade-in: alpha rises linearly from 0 to 1 over `fade_steps`."""
        if self.phase.fade_steps:
            pl_module.net.alpha = min(1.0, trainer.global_step / self.phase.fade_steps)
