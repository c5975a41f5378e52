"""The detectors' 8-bit copy of a plate, by table: `fusion.io.image.to_uint8`'s numbers at a fraction of its cost.

Face detection and landmarks take 8-bit pixels, so every plate frame is
converted before its faces are found. For a float (EXR) plate that is the
sRGB curve, a power, over the whole frame: at 4K it cost more than finding the
face. `to_uint8` is a rising step function of each value, so it is tabled
once: a float32's bits without their lowest `_DROPPED_BITS` name a bucket
(a 2**-11 share of its octave), no bucket holds more than one of its 255
steps, and each bucket keeps its value at the bottom and the bits where it
steps up. A 16-bit plate takes a 65536-entry table, and so does a float plate
whose values are all halves (read from a half EXR): a table of the half bits,
one lookup after a conversion to half that is exact for them. The tables are
built by `to_uint8` itself, so the copy is its own, bit for bit.
"""

import functools

import numpy as np

from fusion.io.image import to_uint8
from fusion.io.plate import to_half

__all__ = ["eight_bit"]

#: float32 bits below a table bucket: the buckets span 2**-11 of an octave, finer than `to_uint8`'s steps.
_DROPPED_BITS = 12


@functools.cache
def _float_table() -> tuple[np.ndarray, np.ndarray]:
    """Per bucket of non-negative float32s up to 1.0: `to_uint8` at its bottom and the first bits of the next
    value (int32 maximum where the bucket holds one value)."""
    first = np.arange((np.float32(1).view(np.int32) >> _DROPPED_BITS) + 1, dtype=np.int32) << _DROPPED_BITS
    last = first + (1 << _DROPPED_BITS) - 1
    low, high = to_uint8(first.view(np.float32)), to_uint8(last.view(np.float32))
    if np.any(high.astype(np.int64) - low > 1):
        raise RuntimeError("to_uint8 steps more than once within a table bucket: lower _DROPPED_BITS")
    below, above = first.copy(), last.copy()  # bisect each bucket for the first bits valued `high`
    for _ in range(_DROPPED_BITS):
        middle = below + (above - below) // 2
        stepped = to_uint8(middle.view(np.float32)) == high
        above, below = np.where(stepped, middle, above), np.where(stepped, below, middle + 1)
    return low, np.where(high > low, above, np.iinfo(np.int32).max).astype(np.int32)


@functools.cache
def _uint16_table() -> np.ndarray:
    return to_uint8(np.arange(1 << 16, dtype=np.uint16))


@functools.cache
def _half_table() -> np.ndarray:
    """`to_uint8` of every half, by its bits (infinities and NaN as `to_uint8` takes them)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return to_uint8(np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float32))


def eight_bit(image: np.ndarray, halves: bool = False) -> np.ndarray:
    """`to_uint8(image)`, the same numbers: uint8 as it is, uint16 and float32 through a table; `halves`: every
    float32 value is a half (`Header.all_half`), so one lookup in a table of the half bits serves.

    Negative floats are black and floats above 1 white, as in `to_uint8`.

    >>> values = np.array([-1.0, 0.0, 0.001, 0.0031308, 0.2140, 0.5, 1.0, 7.5], np.float32)
    >>> eight_bit(values).tolist() == to_uint8(values).tolist() == [0, 0, 3, 10, 127, 188, 255, 255]
    True
    >>> halves = values.astype(np.float16).astype(np.float32)
    >>> eight_bit(halves, halves=True).tolist() == to_uint8(halves).tolist()
    True
    >>> eight_bit(np.array([0, 257, 65535], np.uint16)).tolist()
    [0, 1, 255]
    """
    if image.dtype == np.uint16:
        return _uint16_table()[image]
    if image.dtype != np.float32:
        return to_uint8(image)
    if halves:
        return _half_table()[to_half(image).view(np.uint16)]
    low, step = _float_table()
    bits = image.view(np.int32)
    bucket = np.clip(bits >> _DROPPED_BITS, 0, len(low) - 1)
    return low[bucket] + (bits >= step[bucket]).view(np.uint8)
