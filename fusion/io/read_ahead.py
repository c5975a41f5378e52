"""Reading ahead: the next frames decode in threads while the current one is worked on.

Decoding a plate (OpenImageIO, OpenCV, ffmpeg) and most numpy and OpenCV work
on a frame run outside Python's lock, so on a machine with cores to spare they
overlap the swap's compute instead of waiting for it. `read_ahead` runs a
generator (a video's decoder, which goes frame after frame) in one thread;
`map_ahead` runs a function of each item (an image file's read, a frame's
conversion) in several, each item on its own (`submit_ahead`: the same, its
futures handed to the consumer). Both keep the order, hold at most `depth`
items ahead, raise an error where its item would have come, and stop their
threads when the consumer stops.
"""

import queue
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_DONE = object()


def read_ahead(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Yield `items` in order, produced by a thread up to `depth` items ahead.

    >>> list(read_ahead(range(5)))
    [0, 1, 2, 3, 4]
    >>> def broken():
    ...     yield 1
    ...     raise OSError("frame 2 is truncated")
    >>> frames = read_ahead(broken())
    >>> next(frames)
    1
    >>> next(frames)
    Traceback (most recent call last):
    ...
    OSError: frame 2 is truncated
    """
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    waiting: queue.Queue = queue.Queue(depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                waiting.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
        except BaseException as error:  # handed to the consumer, raised there
            put((_DONE, error))
            return
        put((_DONE, None))

    reader = threading.Thread(target=produce, name="fusion-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            item, error = waiting.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        reader.join()


def submit_ahead(function: Callable[[T], R], items: Iterable[T], workers: int,
                 depth: int | None = None) -> Iterator[Future]:
    """Yield, in order, the future of `function(item)` for each of `items`, submitted to `workers` threads up to
    `depth` items ahead (default: one more than `workers`, so none waits for a slot while the consumer takes a
    result). `items` is drawn in the consumer's thread, with the futures before it still running.

    >>> [future.result() for future in submit_ahead(lambda x: x * x, range(4), workers=2)]
    [0, 1, 4, 9]
    """
    depth = workers + 1 if depth is None else depth
    if workers < 1 or depth < workers:
        raise ValueError(f"reading ahead needs at least 1 worker and a depth of at least workers, got {workers}, {depth}")
    pending: deque[Future] = deque()
    with ThreadPoolExecutor(workers, thread_name_prefix="fusion-map-ahead") as pool:
        try:
            for item in items:
                pending.append(pool.submit(function, item))
                if len(pending) == depth:
                    yield pending.popleft()
            while pending:
                yield pending.popleft()
        finally:
            for future in pending:
                future.cancel()


def map_ahead(function: Callable[[T], R], items: Iterable[T], workers: int, depth: int | None = None) -> Iterator[R]:
    """Yield `function(item)` for each of `items` in order, computed by `workers` threads up to `depth` items
    ahead (`submit_ahead`); an error is raised at its item's place.

    >>> list(map_ahead(lambda x: x * x, range(6), workers=3))
    [0, 1, 4, 9, 16, 25]
    >>> def read(index):
    ...     if index == 2:
    ...         raise OSError(f"frame {index} is truncated")
    ...     return index
    >>> frames = map_ahead(read, range(4), workers=2)
    >>> next(frames), next(frames)
    (0, 1)
    >>> next(frames)
    Traceback (most recent call last):
    ...
    OSError: frame 2 is truncated
    """
    futures = submit_ahead(function, items, workers, depth)
    try:
        for future in futures:
            yield future.result()
    finally:
        futures.close()
