"""fusion.faces.eight_bit: the detectors' 8-bit copy is `to_uint8`'s, bit for bit, by table."""

import numpy as np

from fusion.faces.eight_bit import eight_bit
from fusion.io.image import srgb_decode, to_uint8


def test_every_16_bit_value_and_a_sweep_of_float32_bits_match_to_uint8():
    levels = np.arange(1 << 16, dtype=np.uint16)
    np.testing.assert_array_equal(eight_bit(levels), to_uint8(levels))
    # every 401st float32 from 0 to 2, the float32s either side of each of to_uint8's steps, and beyond the range
    sweep = np.arange(0, np.float32(2).view(np.int32), 401, dtype=np.int32).view(np.float32)
    steps = srgb_decode((np.arange(256, dtype=np.float32) - 0.5) / 255)
    around = np.concatenate([np.nextafter(steps, -np.inf), steps, np.nextafter(steps, np.inf)]).astype(np.float32)
    extremes = np.array([-np.inf, -3.0, -0.0, 1.0, 1e30, np.inf], np.float32)
    for values in (sweep, around, extremes):
        np.testing.assert_array_equal(eight_bit(values), to_uint8(values))


def test_every_half_read_as_float32_matches_to_uint8_through_the_half_table():
    with np.errstate(over="ignore", invalid="ignore"):
        halves = np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float32)
        expected = to_uint8(halves)
    np.testing.assert_array_equal(eight_bit(halves, halves=True), expected)
    assert np.count_nonzero(np.diff(expected[:0x7C00].astype(int))) == 255  # every level is reached


def test_a_frame_keeps_its_shape_and_uint8_passes_through():
    frame = srgb_decode(np.random.default_rng(0).uniform(0, 1.2, (9, 7, 3)).astype(np.float32))
    copy = eight_bit(frame)
    assert copy.shape == frame.shape and copy.dtype == np.uint8
    np.testing.assert_array_equal(copy, to_uint8(frame))
    assert eight_bit(copy) is copy
