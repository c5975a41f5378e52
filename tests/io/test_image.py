"""fusion.io.image and fusion.io.atomic: round trips keep dtype and values, errors name the file; a frame's
color channels (fusion.io.plate.Frame)."""

import numpy as np
import pytest

from fusion.io.atomic import atomic_path
from fusion.io.image import ImageReadError, read_image, write_image
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
