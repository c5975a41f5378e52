"""The EMA teacher: the student's exponential moving average, through torch's `AveragedModel`.

Its predictions on unlabelled crops are the consistency targets; it changes
slowly, so the student does not chase its own noise. It is also the network
that is kept: averaged weights segment more steadily than the last step's.
"""

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


class EmaTeacher(nn.Module):
    """After `update(student)`: teacher = decay * teacher + (1 - decay) * student, buffers included; the first
    update copies the student.

    >>> student = nn.Linear(1, 1, bias=False)
    >>> teacher = EmaTeacher(student, decay=0.9)
    >>> with torch.no_grad():
    ...     _ = student.weight.fill_(1.0); teacher.update(student)   # first: a copy
    ...     _ = student.weight.fill_(2.0); teacher.update(student)   # then: 0.9 * 1 + 0.1 * 2
    >>> round(teacher.module.weight.item(), 6)
    1.1
    """

    def __init__(self, student: nn.Module, decay: float = 0.99):
        super().__init__()
        if not 0 < decay < 1:
            raise ValueError(f"the teacher's decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.average = AveragedModel(student, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
        self.average.requires_grad_(False)

    @property
    def module(self) -> nn.Module:
        """The averaged network itself (what is run and saved)."""
        return self.average.module

    @torch.no_grad()
    def update(self, student: nn.Module) -> None:
        self.average.update_parameters(student)

    def forward(self, *args, **kwargs):
        return self.average(*args, **kwargs)

    def extra_repr(self) -> str:
        return f"decay={self.decay}"
