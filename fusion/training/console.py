"""What a person reads while training runs: one line per phase, progress, a closing summary.

One fit per phase means one Trainer per phase, and each would repeat
Lightning's device banner, its tips and the same warnings; `quiet_lightning`
keeps those out (the run names its device once). Progress is a bar on a
terminal and a log line every tenth of a phase (and at least every minute)
elsewhere, so a SLURM log shows it too (fusion.progress).
"""

import logging
import time
import warnings

import lightning as L

from fusion.progress import duration, progress
from fusion.training.schedule import Phase

log = logging.getLogger(__name__)


def quiet_lightning() -> None:
    """Silence what Lightning repeats per Trainer: the device banner, tips, "fit stopped: max_steps", the
    note that a checkpoint folder is in use (every phase writes into the run's), and a deprecation inside it."""
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.pytorch.trainer.connectors.checkpoint_connector",
                 "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*is deprecated")


class PhaseProgress(L.Callback):
    """Announces each phase (size, what trains, steps, the time it should take) and shows its progress.

    The estimate scales the previous phase's measured seconds per step by pixels times batch size.
    """

    def __init__(self, phase: Phase, previous: tuple[Phase, float] | None = None, terminal: bool | None = None):
        self.phase, self.previous = phase, previous
        self.terminal = terminal
        self.seconds_per_step: float | None = None
        self._bar = None

    def extra_repr(self) -> str:
        return f"{self.phase.label}, terminal={self.terminal}"

    def estimate(self) -> float | None:
        """Seconds this phase should take, from the previous phase's rate; None before any was measured."""
        if self.previous is None:
            return None
        before, rate = self.previous
        work = (self.phase.resolution ** 2 * self.phase.batch_size) / (before.resolution ** 2 * before.batch_size)
        return self.phase.steps * rate * work

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        phase = self.phase
        trainable = sum(p.numel() for p in pl_module.net.parameters() if p.requires_grad)
        total = sum(p.numel() for p in pl_module.net.parameters())
        trains = (f"the new level only ({trainable:,} of {total:,} parameters; the rest frozen)" if phase.newest_only
                  else f"everything ({trainable:,} parameters)")
        estimate = self.estimate()
        self._start, self._first_step = time.monotonic(), trainer.global_step
        if not trainer.is_global_zero:
            return
        log.info("%s: %d px%s, %d crops per identity, batch %d, %d steps at lr %g, trains %s; %s",
                 phase.label, phase.resolution,
                 f" (input {phase.input_resolution} px)" if phase.input_resolution != phase.resolution else "",
                 phase.quantity, phase.batch_size, phase.steps - trainer.global_step, phase.lr, trains,
                 f"about {duration(estimate)}" if estimate else "time shown once measured")
        self._bar = progress(total=phase.steps, initial=trainer.global_step, desc=f"{phase.label} {phase.resolution} px",
                             unit="step", terminal=self.terminal)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int) -> None:
        self.seconds_per_step = (time.monotonic() - self._start) / (trainer.global_step - self._first_step)
        if self._bar is None:
            return
        loss = trainer.callback_metrics.get("train/loss")
        if loss is not None:
            self._bar.set_postfix(loss=f"{float(loss):.4f}", refresh=False)
        self._bar.update(1)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._bar is not None:
            self._bar.close()
