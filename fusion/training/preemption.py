"""A graceful stop: a preemption notice or Ctrl-C saves `last.ckpt` at a step boundary.

The launcher owns the requeue: submitit sends its signal (default SIGUSR2)
before the time limit or on preemption, and its handler requeues the job and
exits; Lightning's own SLURM requeue is off (run.cluster_plugins). This watch
only defers that handler to the next step boundary: every rank agrees to stop
after the same step, saves `last.ckpt` there (as a mid-phase checkpoint is
saved, so the resume is exact), and then the launcher's handler runs. Ctrl-C
stops the same way (a second Ctrl-C aborts at once).
"""

import logging
import os
import signal
import threading
from pathlib import Path

import lightning as L

log = logging.getLogger(__name__)


def preemption_signal() -> signal.Signals:
    """The signal submitit sends before preemption or the time limit (SUBMITIT_PREEMPT_SIGNAL, default USR2)."""
    return signal.Signals[f"SIG{os.environ.get('SUBMITIT_PREEMPT_SIGNAL', 'USR2')}"]


class RunStopped(RuntimeError):
    """The run stopped on a signal and saved `last.ckpt`; resuming from it continues where it stopped."""


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
        log.warning("received %s: saving after this step", self.received.name)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int) -> None:
        """Once any rank has a signal, every rank saves after this same step and hands over."""
        if not trainer.strategy.reduce_boolean_decision(self.received is not None, all=False):
            return
        received = self.received or self.signals[0]
        trainer.save_checkpoint(self.checkpoint)
        log.warning("stopped by %s: saved %s", received.name, self.checkpoint)
        previous = self._previous.get(received)
        if received != signal.SIGINT and callable(previous):
            previous(received, None)
        raise RunStopped(f"stopped by {received.name} after saving {self.checkpoint}; resume with "
                         f"ckpt_path={self.checkpoint} (a requeued job resumes from its own run folder by itself)")
