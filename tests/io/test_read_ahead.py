"""Reading ahead: order kept, at most `depth` frames waiting, the reader stopped when the consumer stops."""

import threading
import time

from fusion.io.read_ahead import read_ahead


def test_the_reader_stays_at_most_depth_ahead_and_stops_with_the_consumer():
    produced = []

    def frames():
        for index in range(100):
            produced.append(index)
            yield index

    reading = read_ahead(frames(), depth=2)
    assert next(reading) == 0
    time.sleep(0.3)
    assert len(produced) <= 4  # one taken, two waiting, one in the reader's hand
    reading.close()
    assert not any(thread.name == "fusion-read-ahead" for thread in threading.enumerate())
    assert len(produced) <= 4


def test_reading_overlaps_the_work_on_each_frame():
    def frames():
        for index in range(6):
            time.sleep(0.05)  # decoding, outside the consumer's time
            yield index

    start = time.perf_counter()
    for _ in read_ahead(frames()):
        time.sleep(0.05)  # the work on a frame
    assert time.perf_counter() - start < 0.5  # 0.6 s one after the other
