"""fusion.io.image and fusion.io.atomic: round trips keep dtype and values, errors name the file; a frame's
color channels (fusion.io.plate.Frame)."""

import numpy as np
import pytest

from fusion.io.atomic import atomic_path
from fusion.io.image import ImageReadError, read_image, to_integers, to_unit, write_image
from fusion.io.plate import Frame


@pytest.mark.parametrize("suffix,dtype", [(".png", np.uint8), (".png", np.uint16), (".tif", np.uint16), (".exr", np.float32)])
def test_roundtrip_keeps_dtype_and_values(tmp_path, suffix, dtype):
    rng = np.random.default_rng(0)
    if dtype == np.float32:
        image = rng.uniform(0, 4, (17, 23, 3)).astype(dtype)  # HDR values above 1 survive
    else:
        image = rng.integers(0, np.iinfo(dtype).max, (17, 23, 3), dtype=dtype)
    write_image(tmp_path / f"a{suffix}", image)
    back = read_image(tmp_path / f"a{suffix}")
    assert back.dtype == dtype
    np.testing.assert_array_equal(back, image)


def test_corrupt_file_error_names_file(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG not really")
    with pytest.raises(ImageReadError, match="broken.png"):
        read_image(path)
    (tmp_path / "broken.exr").write_bytes(b"nope")
    with pytest.raises(ImageReadError, match="broken.exr"):
        read_image(tmp_path / "broken.exr")


def test_channel_layouts():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 3] = 255
    frame = Frame(0, rgba, ("R", "G", "B", "A"))
    assert frame.rgb.shape == (4, 4, 3) and "alpha" in frame.note
    grey = Frame(0, np.arange(16, dtype=np.uint16).reshape(4, 4, 1), ("Y",))
    assert grey.rgb.shape == (4, 4, 3) and (grey.rgb[..., 2] == grey.pixels[..., 0]).all()
    np.testing.assert_array_equal(grey.with_rgb(grey.rgb).pixels, grey.pixels)  # grey back as it was
    with pytest.raises(ValueError, match="shape|pixels"):
        Frame(0, np.zeros((4, 4, 2)))


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "x.png"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("shape", [(256,), (16, 16), (4, 8, 1), (4, 8, 3), (2, 8, 4), (2, 4, 7)])
def test_to_unit_by_table_gives_the_division_s_numbers(shape):
    """8-bit pixels go through a table (OpenCV's LUT): every value, in every layout, and a strided view of a plate,
    are the float32 division's numbers to the bit."""
    values = np.arange(256, dtype=np.uint8)
    image = np.resize(values, shape)
    np.testing.assert_array_equal(to_unit(image), image.astype(np.float32) / 255)
    plate = np.random.default_rng(0).integers(0, 256, (40, 60, 3), np.uint8)
    np.testing.assert_array_equal(to_unit(plate[5:30, 7:50]), plate[5:30, 7:50].astype(np.float32) / 255)
    assert to_unit(image).shape == shape and to_unit(image).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_to_integers_rounds_and_clips_as_numpy_does(dtype):
    """OpenCV's saturating multiply (float32) against numpy's round, clip and cast: values out of range, exact
    halves (ties to even), infinities, a strided view; NaN is 0 on either path."""
    scale = np.iinfo(dtype).max
    rng = np.random.default_rng(1)
    values = rng.uniform(-0.3, 1.3, (64, 80, 3)).astype(np.float32)
    values[0, :20, 0] = (np.arange(20, dtype=np.float32) + 0.5) / scale  # halves: ties to even
    values[1, :4, 0] = [np.inf, -np.inf, 0.0, -0.0]
    expected = np.clip(np.round(values * scale), 0, scale).astype(dtype)
    np.testing.assert_array_equal(to_integers(values, dtype), expected)
    np.testing.assert_array_equal(to_integers(values[3:40:2, 5:70], dtype), expected[3:40:2, 5:70])
    np.testing.assert_array_equal(to_integers(values.astype(np.float64), dtype),
                                  np.clip(np.round(values.astype(np.float64) * scale), 0, scale).astype(dtype))
    values[2, 3, 1] = np.nan
    out = to_integers(values, dtype)
    assert out[2, 3, 1] == 0 and out.dtype == dtype
    np.testing.assert_array_equal(np.delete(out.ravel(), 2 * 80 * 3 + 3 * 3 + 1),
                                  np.delete(expected.ravel(), 2 * 80 * 3 + 3 * 3 + 1))
