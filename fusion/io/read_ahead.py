"""Reading ahead: the next frames decode in a thread while the current one is worked on.

Decoding a plate (OpenImageIO, OpenCV, ffmpeg) runs outside Python's lock, so
on a machine with a core to spare it overlaps the swap's compute instead of
waiting for it. At most `depth` frames wait in memory; an error in the reader
is raised where the frame it stopped at would have come; closing the consumer
stops the reader.
"""

import queue
import threading
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

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
