"""Reading ahead: order kept, at most `depth` frames waiting, the readers stopped when the consumer stops."""

import threading
import time

import numpy as np

from fusion.io.footage import read_frames_ahead, source_from_path
from fusion.io.image import write_image
from fusion.io.read_ahead import map_ahead, read_ahead


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


def test_map_ahead_keeps_the_order_and_stays_at_most_depth_ahead():
    started = []

    def read(index):
        started.append(index)
        time.sleep(0.02 * (index % 3))  # later items may finish first
        return index

    frames = map_ahead(read, range(100), workers=3, depth=4)
    assert [next(frames) for _ in range(5)] == [0, 1, 2, 3, 4]
    time.sleep(0.2)
    assert len(started) <= 9  # five taken, four in flight
    frames.close()
    time.sleep(0.1)
    assert len(started) <= 9 and not any(t.name.startswith("fusion-map-ahead") for t in threading.enumerate())


def test_map_ahead_works_on_items_side_by_side():
    start = time.perf_counter()
    assert list(map_ahead(lambda index: time.sleep(0.1) or index, range(6), workers=3)) == list(range(6))
    assert time.perf_counter() - start < 0.45  # 0.6 s one after the other


def test_read_frames_ahead_reads_a_sequence_in_order_with_a_bad_file_in_its_place(tmp_path):
    pixels = [np.full((4, 6, 3), 40 * i, np.uint8) for i in range(5)]
    for i, image in enumerate(pixels):
        write_image(tmp_path / f"plate.{i + 1:04d}.png", image)
    (tmp_path / "plate.0003.png").write_bytes(b"not a png")
    source = source_from_path(tmp_path)
    read = list(read_frames_ahead(source, 1, 5, workers=3))
    assert [index for index, _ in read] == [1, 2, 3, 4]
    assert isinstance(read[1][1], Exception) and "plate.0003.png" in str(read[1][1])
    assert [frame.number for _, frame in read if not isinstance(frame, Exception)] == [2, 4, 5]
    np.testing.assert_array_equal(read[2][1].pixels, pixels[3])
