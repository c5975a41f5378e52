"""Progress a person sees wherever the output goes: a tqdm bar on a terminal, log lines elsewhere.

A bar redrawn with carriage returns turns a SLURM log or a piped run into one
unreadable line; off a terminal the same progress is a log line at every tenth
of the work (and at least once a minute), with its rate and the time left.
"""

import logging
import sys
import time
from typing import Iterable, Iterator

from tqdm import tqdm

log = logging.getLogger("fusion.progress")


def duration(seconds: float) -> str:
    """A short human duration.

    >>> duration(42.4), duration(125), duration(7400)
    ('42 s', '2 min 5 s', '2 h 3 min')
    """
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


class LoggedProgress:
    """tqdm's interface (iterate, `update`, `set_postfix`, `with`) as log lines.

    >>> bar = LoggedProgress(total=20, desc="crops", unit="frame")
    >>> for _ in range(20):
    ...     bar.update()
    >>> bar.lines
    10
    """

    def __init__(self, iterable: Iterable | None = None, total: int | None = None, desc: str = "", unit: str = "it",
                 initial: int = 0, every_seconds: float = 60.0):
        self.iterable, self.desc, self.unit = iterable, desc, unit
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
        self.n = self._start_n = initial
        self.postfix = ""
        self.every_seconds = every_seconds
        self.lines = 0
        self._start = self._last = time.monotonic()
        self._tenth = max(1, (self.total or 10) // 10)

    def __iter__(self) -> Iterator:
        for item in self.iterable:
            yield item
            self.update()

    def __enter__(self) -> "LoggedProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def set_postfix(self, refresh: bool = True, **values) -> None:
        self.postfix = ", ".join(f"{key} {value}" for key, value in values.items())

    def update(self, n: int = 1) -> None:
        before, self.n = self.n, self.n + n
        now = time.monotonic()
        if before // self._tenth != self.n // self._tenth or self.n == self.total or now - self._last > self.every_seconds:
            self._last = now
            self.lines += 1
            rate = (self.n - self._start_n) / max(now - self._start, 1e-9)
            of = f"/{self.total} ({100 * self.n // self.total}%)" if self.total else ""
            left = f", {duration((self.total - self.n) / rate)} left" if self.total and rate else ""
            log.info("%s: %d%s %s, %.2f %s/s%s%s", self.desc, self.n, of, self.unit, rate, self.unit, left,
                     f", {self.postfix}" if self.postfix else "")

    def close(self) -> None:
        """Nothing to clear: every line already stands on its own."""


def progress(iterable: Iterable | None = None, *, total: int | None = None, desc: str = "", unit: str = "it",
             initial: int = 0, terminal: bool | None = None):
    """A tqdm bar when stderr is a terminal, else LoggedProgress; both take the same calls."""
    if sys.stderr.isatty() if terminal is None else terminal:
        return tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, dynamic_ncols=True)
    return LoggedProgress(iterable, total=total, desc=desc, unit=unit, initial=initial)
