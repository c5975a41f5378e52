"""Accumulated wall time per named stage, so reports can say where time goes."""

import contextlib
import time
from collections import Counter
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


class Stopwatch:
    """Sum of seconds spent in each named stage.

    >>> watch = Stopwatch()
    >>> with watch("sleep"):
    ...     time.sleep(0.01)
    >>> watch.seconds["sleep"] > 0.005
    True
    >>> list(watch.iterate(range(3), "count")), sorted(watch.seconds)
    ([0, 1, 2], ['count', 'sleep'])
    """

    def __init__(self):
        self.seconds: Counter = Counter()

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - start

    def iterate(self, items: Iterable[T], stage: str) -> Iterator[T]:
        """Yield from `items`, counting the time spent producing each one (e.g. decoding)."""
        iterator = iter(items)
        while True:
            with self(stage):
                try:
                    item = next(iterator)
                except StopIteration:
                    return
            yield item
