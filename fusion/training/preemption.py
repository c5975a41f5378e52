"""A graceful stop: a preemption notice or Ctrl-C stops the run at the next safe point.

The launcher owns the requeue: submitit sends its signal (default SIGUSR2)
before the time limit or on preemption, and its handler requeues the job and
exits; Lightning's own SLURM requeue is off (run.cluster_plugins). This watch
defers that handler to the next safe point, which comes soon wherever the
signal falls (SLURM kills a job that takes longer than `signal_delay_s`):
- a step boundary or a validation batch: every rank agrees to stop at the same
  one and `last.ckpt` is saved there (as a mid-phase checkpoint is, so the
  resume is exact);
- after a phase's closing saves, and between the packs a phase builds before it
  trains: `last.ckpt` already holds where to go on from, so nothing is saved.
Then the launcher's handler runs. Ctrl-C stops the same way (a second Ctrl-C
aborts at once).
"""

import logging
import os
import signal
import threading
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.trainer.states import TrainerFn

from fusion.errors import RunStopped

log = logging.getLogger(__name__)


def preemption_signal() -> signal.Signals:
    """The signal submitit sends before preemption or the time limit (SUBMITIT_PREEMPT_SIGNAL, default USR2)."""
    return signal.Signals[f"SIG{os.environ.get('SUBMITIT_PREEMPT_SIGNAL', 'USR2')}"]


class ValidationStopped(RuntimeError):
    """A phase's closing validation was cut short by a signal: save the phase's end, then hand over."""


class PreemptionWatch(L.Callback):
    """Notes the preemption signal and SIGINT while installed (`with watch:`); at the next step boundary
    saves `checkpoint` and hands over: the launcher's handler takes a preemption (it requeues and exits),
    otherwise RunStopped says how to resume.
    """

    def __init__(self, checkpoint: Path, preemption: signal.Signals | None = None):
        self.checkpoint = checkpoint
        self.signals = (preemption or preemption_signal(), signal.SIGINT)
        self.received: signal.Signals | None = None
        self._previous: dict[signal.Signals, object] = {}
        self._shared_batches = 0
        self._received_by: list[int] = []

    def extra_repr(self) -> str:
        return f"checkpoint={self.checkpoint}, signals={[s.name for s in self.signals]}, received={self.received}"

    def __enter__(self) -> "PreemptionWatch":
        if threading.current_thread() is threading.main_thread():  # Python handles signals there only
            self._previous = {s: signal.signal(s, self._note) for s in self.signals}
        return self

    def __exit__(self, *exc) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, signal.SIG_DFL if previous is None else previous)

    def _note(self, signum: int, frame) -> None:
        self.received = signal.Signals(signum)
        if self.received == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C aborts
        log.warning("received %s: stopping at the next safe point", self.received.name)

    def _agreed(self, trainer: L.Trainer) -> bool:
        """Whether any rank has a signal; every rank must ask at the same point. Once one has, every rank
        takes the same signal (the lowest rank's that has one) and learns which ranks received it."""
        if not trainer.strategy.reduce_boolean_decision(self.received is not None, all=False):
            return False
        received = trainer.strategy.all_gather(torch.tensor(int(self.received or 0))).reshape(-1).tolist()
        self._received_by = [rank for rank, signum in enumerate(received) if signum]
        self.received = signal.Signals(received[self._received_by[0]])
        return True

    def hand_over(self, saved_by: L.Trainer | None = None) -> None:
        """Stop here: run the launcher's handler (a preemption: it requeues and exits), else raise RunStopped.
        `last.ckpt` holds where to go on from: just saved through `saved_by` (rank zero writes it, once), or
        by an earlier save."""
        received = self.received or self.signals[0]
        by = f" (received by rank {', '.join(map(str, self._received_by))})" if self._received_by else ""
        if saved_by is None:
            log.warning("stopped by %s%s: going on from %s", received.name, by, self.checkpoint)
        elif saved_by.is_global_zero:
            log.warning("stopped by %s%s: rank 0 saved %s", received.name, by, self.checkpoint)
        previous = self._previous.get(received)
        if received != signal.SIGINT and callable(previous):
            previous(received, None)
        raise RunStopped(f"stopped by {received.name} {'after saving' if saved_by else 'at'} {self.checkpoint}; "
                         f"resume with ckpt_path={self.checkpoint} (a requeued job resumes from its own run folder "
                         "by itself)")

    def check(self) -> None:
        """A safe point of this process alone (no other rank waits on it), where `last.ckpt` already holds
        where to go on from: between the packs a phase builds. Hands over if a signal came."""
        if self.received is not None:
            self.hand_over()

    def check_all(self, trainer: L.Trainer) -> None:
        """`check` where every rank comes (after a phase's closing saves): all stop if any has a signal."""
        if self._agreed(trainer):
            self.hand_over()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int) -> None:
        """Once any rank has a signal, every rank saves after this same step and hands over."""
        if self._agreed(trainer):
            trainer.save_checkpoint(self.checkpoint)
            self.hand_over(saved_by=trainer)

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Count the validation batches every rank has (ranks may differ by one): stops are agreed only there."""
        batches = torch.tensor(int(sum(trainer.num_val_batches)), device=pl_module.device)
        self._shared_batches = int(trainer.strategy.all_gather(batches).min())

    def on_validation_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch,
                                batch_idx: int, dataloader_idx: int = 0) -> None:
        """Stop between validation batches rather than after the rest of the validation and the next step.
        In a fit, the checkpoint saved here resumes at the step validation followed; a phase's closing
        validation is cut short instead (ValidationStopped) and the phase's closing saves go first."""
        if batch_idx >= self._shared_batches or not self._agreed(trainer):
            return
        if trainer.state.fn != TrainerFn.FITTING:
            raise ValidationStopped(f"validation stopped by {self.received.name}")
        trainer.save_checkpoint(self.checkpoint)
        self.hand_over(saved_by=trainer)
