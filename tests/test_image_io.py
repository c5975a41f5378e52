import numpy as np
import pytest

from fusion.io.atomic import atomic_path
from fusion.io.image import ImageReadError, as_rgb, read_image, write_image


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
    rgb, note = as_rgb(rgba)
    assert rgb.shape == (4, 4, 3) and "alpha" in note
    with pytest.raises(ValueError, match="shape"):
        as_rgb(np.zeros((4, 4, 2)))


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "x.png"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("blend", ["alpha", "multiband"])
def test_an_exr_plate_comes_back_linear_in_its_own_range(blend):
    """A face that is the plate itself (in the network's encoding) composites back to the plate's linear
    values, highlights above 1 included; outside the matte the plate is bit-exact."""
    from fusion.io.image import encode
    from fusion.swap.composite import composite_face

    y, x = np.mgrid[0:128, 0:128].astype(np.float32) / 128
    plate = np.stack([0.02 + 3 * x * y, 0.2 + 0.1 * x, 0.5 * y + 1e-3], -1).astype(np.float32)
    polygon = np.array([[24, 20], [104, 20], [110, 70], [64, 112], [18, 70]], np.float64)
    out, matte = composite_face(plate, encode(plate), np.eye(2, 3), polygon, blend, erode=0, feather=4)
    inside = matte > 0
    assert out.dtype == np.float32 and plate[inside].max() > 1.5
    np.testing.assert_allclose(out[inside], plate[inside], rtol=2e-3, atol=2e-4)
    np.testing.assert_array_equal(out[~inside], plate[~inside])


def test_8bit_and_exr_footage_share_one_pack(tmp_path, photos):
    """The same face as 8-bit PNG and as scene-linear EXR lands in one pack with the same encoded values."""
    from fusion.data.cache import CacheSettings
    from fusion.data.pack import PackSpec, build_pack
    from fusion.data.prepare import PrepareOptions, prepare
    from fusion.io.image import srgb_decode

    hopper = photos["hopper"]
    write_image(tmp_path / "footage" / "ldr" / "f0.png", hopper)
    write_image(tmp_path / "footage" / "hdr" / "f0.exr", srgb_decode(hopper / np.float32(255)))
    prepare(tmp_path / "footage", tmp_path / "cache", CacheSettings(resolution=64, landmarks="dlib", jitter=1),
            PrepareOptions(workers=1, contact_sheet=0))
    pack = build_pack(tmp_path / "cache", ["ldr", "hdr"], PackSpec(32, 1, holdout=0))
    assert pack.images.dtype == np.float16
    ldr, hdr = (pack.images[pack.identity == i].astype(np.float32) for i in range(2))
    # Not equal: the EXR is resampled in linear light (as it should be), the PNG in encoded values; the
    # 0.02 this leaves compares with 0.2 when EXR crops went into the pack linear.
    assert 0.3 < ldr.mean() < 0.7 and np.abs(ldr - hdr).mean() < 0.04
