"""fusion.data.pack: packs from a prepared cache, their sizes, subsets and held-out frames, 8-bit and EXR footage."""

import numpy as np
import pytest

from fusion.data.cache import CropSettings
from fusion.data.pack import PackSpec, build_pack
from fusion.errors import UserError
from fusion.data.prepare import prepare
from fusion.data.prepare_options import PrepareOptions
from fusion.demo.footage import make_demo_footage
from fusion.io.image import srgb_decode, write_image


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("pack")
    footage = make_demo_footage(root / "footage", frames=20)
    prepare(footage, root / "cache", CropSettings(resolution=64, landmarks="dlib", jitter=1),
            PrepareOptions(workers=1, contact_sheet=0))
    return root / "cache"


def test_pack_shapes_and_reuse(cache):
    spec = PackSpec(resolution=32, quantity=8, seed=3)
    pack = build_pack(cache, ["astronaut", "hopper"], spec)
    assert pack.images.shape == (16, 32, 32, 3) and pack.images.dtype == np.uint8
    assert isinstance(pack.images, np.memmap)
    assert pack.masks.shape == (16, 32, 32) and 0.15 < (pack.masks > 127).mean() < 0.7
    assert pack.landmarks.shape == (16, 68, 2) and pack.landmarks.max() < 32
    assert np.bincount(pack.identity).tolist() == [8, 8]
    again = build_pack(cache, ["astronaut", "hopper"], spec)
    assert again.folder == pack.folder and again.keys == pack.keys
    assert len(list((cache / "packs").iterdir())) == 1


def test_smaller_stages_draw_subsets_and_val_is_held_out(cache):
    big = build_pack(cache, ["astronaut", "hopper"], PackSpec(resolution=16, quantity=12))
    small = build_pack(cache, ["astronaut", "hopper"], PackSpec(resolution=128, quantity=5))
    assert set(small.keys) <= set(big.keys)
    assert small.images.shape[1:] == (128, 128, 3)  # upsampled past the 64 px cache
    val = build_pack(cache, ["astronaut", "hopper"], PackSpec(resolution=16, quantity=100, split="val"))
    assert len(val) == 4 and not set(val.keys) & set(big.keys)  # 10% of 20 frames, each identity


def test_a_split_with_no_crops_is_a_user_error_that_names_the_identity(cache):
    """20 crops with 1% held out hold none out: one line naming the identity, the cache and what to change."""
    from fusion.data.pack import NoCropsError

    with pytest.raises(NoCropsError) as caught:
        build_pack(cache, ["astronaut", "hopper"], PackSpec(resolution=16, quantity=2, split="val", holdout=0.01))
    assert isinstance(caught.value, UserError) and isinstance(caught.value, ValueError)  # as before: a ValueError
    assert str(caught.value) == (f"identity 'astronaut' has no val crops in the cache {cache}: holdout=0.01 of its "
                                 "20 crops leaves none; prepare more footage of it or change the holdout")


def test_bad_spec_is_rejected():
    with pytest.raises(ValueError, match="split"):
        PackSpec(resolution=16, quantity=2, split="test")


def test_8bit_and_exr_footage_share_one_pack(tmp_path, photos):
    """The same face as 8-bit PNG and as scene-linear EXR lands in one pack with the same encoded values."""
    hopper = photos["hopper"]
    write_image(tmp_path / "footage" / "ldr" / "f0.png", hopper)
    write_image(tmp_path / "footage" / "hdr" / "f0.exr", srgb_decode(hopper / np.float32(255)))
    prepare(tmp_path / "footage", tmp_path / "cache", CropSettings(resolution=64, landmarks="dlib", jitter=1),
            PrepareOptions(workers=1, contact_sheet=0))
    pack = build_pack(tmp_path / "cache", ["ldr", "hdr"], PackSpec(32, 1, holdout=0))
    assert pack.images.dtype == np.float16
    ldr, hdr = (pack.images[pack.identity == i].astype(np.float32) for i in range(2))
    # Not equal: the EXR is resampled in linear light (as it should be), the PNG in encoded values; the
    # 0.02 this leaves compares with 0.2 when EXR crops went into the pack linear.
    assert 0.3 < ldr.mean() < 0.7 and np.abs(ldr - hdr).mean() < 0.04


def test_each_crop_carries_maps_of_its_eyes_brows_and_mouth(cache):
    """On real dlib landmarks: each map is full at its own landmarks, empty at the others' and on the cheeks."""
    pack = build_pack(cache, ["astronaut", "hopper"], PackSpec(resolution=64, quantity=6))
    assert pack.features.shape == (12, 64, 64, 3) and pack.features.dtype == np.uint8
    for features, points in zip(pack.features, pack.landmarks):
        at = lambda indices, channel: features[points[indices, 1].round().astype(int),  # noqa: E731
                                               points[indices, 0].round().astype(int), channel]
        eyes, brows, mouth = list(range(36, 48)), list(range(17, 27)), list(range(48, 60))
        assert at(eyes, 0).min() > 200 and at(brows, 1).min() > 150 and at(mouth, 2).min() > 200
        assert at(mouth, 0).max() == 0 and at(eyes, 2).max() == 0 and at([2, 14], 1).max() == 0  # jaw sides
