import numpy as np
import pytest

from fusion.data.cache import CacheSettings
from fusion.data.pack import PackSpec, build_pack
from fusion.data.prepare import PrepareOptions, prepare
from fusion.demo.footage import make_demo_footage


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("pack")
    footage = make_demo_footage(root / "footage", frames=20)
    prepare(footage, root / "cache", CacheSettings(resolution=64, landmarks="dlib", jitter=1),
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


def test_bad_spec_is_rejected():
    with pytest.raises(ValueError, match="split"):
        PackSpec(resolution=16, quantity=2, split="test")
