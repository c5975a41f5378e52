"""A graceful stop: a preemption notice or Ctrl-C saves `last.ckpt` at a step boundary.

The launcher owns the requeue: submitit sends its signal (default SIGUSR2)
before the time limit or on preemption, and its handler requeues the job and
exits; Lightning's own SLURM requeue is off (run.cluster_plugins). This watch
only defers that handler to the next step boundary: every rank agrees to stop
after the same step, the run saves `last.ckpt`, and then the launcher's handler
runs. Ctrl-C stops the same way (a second Ctrl-C aborts at once).
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
    """Notes the preemption signal and SIGINT while installed (`with watch:`); stops the fit at the next step boundary.

    The run then saves its checkpoint and calls `hand_over`, which gives the
    preemption signal to the handler that was installed before it (the launcher's
    requeue) and otherwise raises RunStopped saying how to resume.
    """

    def __init__(self, preemption: signal.Signals | None = None):
        self.signals = (preemption or preemption_signal(), signal.SIGINT)
        self.received: signal.Signals | None = None
        self._previous: dict[signal.Signals, object] = {}

    def extra_repr(self) -> str:
        return f"signals={[s.name for s in self.signals]}, received={self.received}"

    @property
    def requested(self) -> bool:
        return self.received is not None

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
        """Stop every rank after the same step once any rank has a signal."""
        if trainer.strategy.reduce_boolean_decision(self.requested, all=False):
            self.received = self.received or self.signals[0]
            trainer.should_stop = True

    def hand_over(self, checkpoint: Path) -> None:
        """After `checkpoint` is saved: the launcher's handler takes a preemption (it requeues and exits);
        otherwise RunStopped with how to resume."""
        log.warning("stopped by %s: saved %s", self.received.name, checkpoint)
        previous = self._previous.get(self.received)
        if self.received != signal.SIGINT and callable(previous):
            previous(self.received, None)
        raise RunStopped(f"stopped by {self.received.name} after saving {checkpoint}; resume with "
                         f"ckpt_path={checkpoint} (a requeued job resumes from its own run folder by itself)")
