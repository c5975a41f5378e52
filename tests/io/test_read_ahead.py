"""Reading ahead: order kept, at most `depth` frames waiting, the readers stopped when the consumer stops."""

import threading
import time

import numpy as np

from fusion.io import footage
from fusion.io.footage import read_frames, read_frames_ahead, source_from_path
from fusion.io.image import write_image
from fusion.io.read_ahead import map_ahead, read_ahead
from fusion.io.video import VideoWriter


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


def test_read_frames_ahead_converts_a_video_s_frames_on_its_workers_as_a_plain_read_does(tmp_path, monkeypatch):
    """A video decodes in one thread and its frames become RGB on the workers: the frames of a plain read, in
    order, from the start, from the middle of a cut and past its end; the conversion ran off the decoding thread."""
    rng = np.random.default_rng(2)
    with VideoWriter(tmp_path / "plate.mp4") as video:
        for _ in range(8):
            video.write(rng.integers(0, 256, (32, 48, 3), np.uint8))
    sources = [source_from_path(tmp_path / "plate.mp4"), source_from_path(tmp_path / "plate.mp4", frames="2-6")]
    plain = [list(read_frames(source, 1, source.frames)) for source in sources]
    converting = set()
    convert = footage.video_pixels
    monkeypatch.setattr(footage, "video_pixels",
                        lambda frame, info: converting.add(threading.current_thread().name) or convert(frame, info))
    for source, expected in zip(sources, plain):
        ahead = list(read_frames_ahead(source, 1, source.frames, workers=2))
        assert [(index, frame.number) for index, frame in ahead] == [(index, frame.number) for index, frame in expected]
        for (_, frame), (_, wanted) in zip(ahead, expected):
            np.testing.assert_array_equal(frame.pixels, wanted.pixels)
        assert list(read_frames_ahead(source, source.frames, source.frames + 3, workers=2)) == []
    assert converting and all(name.startswith("fusion-map-ahead") for name in converting)
