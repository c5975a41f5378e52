"""The crops' working space: caches and checkpoints made before it existed keep their folder and load as its
default; footage in a named colorspace is prepared into the working space, so the network sees one face
however it was delivered."""

import json
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import PyOpenColorIO as ocio
import pytest

from fusion.data.cache import CropSettings, IdentityCache, cache_location
from fusion.data.pack import PackSpec, build_pack
from fusion.data.prepare import prepare
from fusion.data.prepare_options import PrepareOptions
from fusion.data.prepare_command import PrepareResult
from fusion.errors import ConfigError
from fusion.instantiate import build
from fusion.io.colorspace import BUILTIN_CONFIG, color_conversion
from fusion.io.image import srgb_encode, to_unit, write_image

LOGC3 = "ARRI LogC3 (EI800)"
SETTINGS = CropSettings(resolution=64, landmarks="dlib", jitter=1)
OPTIONS = PrepareOptions(workers=1, contact_sheet=0)


def test_a_cache_or_checkpoint_from_before_the_working_space_keeps_its_folder_and_loads(tmp_path):
    old = {"resolution": 512, "face_scale": 0.5, "alignment": "similarity", "mask_enlarge": 0.1,
           "landmarks": "dlib", "jitter": 4, "smooth_window": 9}  # a checkpoint's info["crop"] before it
    assert CropSettings(**old).working_space is None
    assert CropSettings(**old).folder_name == "512px_dlib_bfb0bc72"
    (tmp_path / "actor").mkdir()
    (tmp_path / "actor" / "settings.json").write_text(json.dumps(old))
    IdentityCache(tmp_path, "actor").claim(CropSettings(**old))  # an old cache is claimed, not refused
    named = CropSettings(**old, working_space="ACEScct")
    assert named.folder_name != CropSettings(**old).folder_name and named.recorded()["working_space"] == "ACEScct"


def log_dpx(path, linear: np.ndarray):
    """Linear Rec.709 `linear` as a camera's 10-bit ARRI LogC3 DPX."""
    linear = linear.copy()
    ocio.Config.CreateFromFile(BUILTIN_CONFIG).getProcessor("lin_rec709", LOGC3).getDefaultCPUProcessor().applyRGB(linear)
    codes = np.round(np.clip(linear, 0, 1) * 1023).astype(np.uint16)
    spec = oiio.ImageSpec(linear.shape[1], linear.shape[0], 3, "uint16")
    spec.attribute("oiio:BitsPerSample", 10)
    path.parent.mkdir(parents=True)
    output = oiio.ImageOutput.create(str(path))
    assert output.open(str(path), spec) and output.write_image(codes << 6 | codes >> 4) and output.close()


@pytest.fixture(scope="module")
def footage(tmp_path_factory, photos):
    """hopper's photo delivered twice: an sRGB PNG (`png`) and a LogC3 DPX (`log`), the same face."""
    root = tmp_path_factory.mktemp("colors") / "footage"
    linear = (photos["hopper"].astype(np.float32) / 255) ** 2.2
    write_image(root / "png" / "f.0001.png", np.round(srgb_encode(linear) * 255).astype(np.uint8))
    log_dpx(root / "log" / "f.0001.dpx", linear)
    return root


def pack_of(cache, identities):
    return build_pack(cache, identities, PackSpec(64, 1, holdout=0), workers=1)


def face_colors(cache, identities) -> np.ndarray:
    """(identities, 3): the mean color inside each identity's face mask, as the network sees it in a pack
    (each face found and aligned in its own delivery, so pixels need not line up)."""
    pack = pack_of(cache, identities)
    return np.stack([to_unit(np.asarray(image))[mask > 127].mean(0) for image, mask in zip(pack.images, pack.masks)])


@pytest.fixture(scope="module")
def prepared(footage, tmp_path_factory):
    """{working space: cache}: both deliveries, the log one named LOGC3, in the default working space; the log
    one in ACEScct."""
    caches, named = {}, PrepareOptions(workers=1, contact_sheet=0, colorspace=LOGC3)
    for working in (None, "ACEScct"):
        settings = CropSettings(resolution=64, landmarks="dlib", jitter=1, working_space=working)
        caches[working] = cache_location(tmp_path_factory.mktemp("cache"), settings)
        prepare(footage, caches[working], settings, named, ["log"])
    prepare(footage, caches[None], SETTINGS, OPTIONS, ["png"])
    return caches


def test_log_footage_named_by_its_colorspace_is_the_same_face_to_the_network(footage, prepared, tmp_path):
    cache = prepared[None]
    record = IdentityCache(cache, "log").index()[0]
    assert record["colorspace"] == LOGC3 and "working_space" not in record and record["crop"].endswith(".exr")
    assert "colorspace" not in IdentityCache(cache, "png").index()[0]
    srgb, log = face_colors(cache, ["png", "log"])
    np.testing.assert_allclose(log, srgb, atol=0.005)
    prepare(footage, tmp_path, SETTINGS, OPTIONS, ["png", "log"])
    srgb, flat = face_colors(tmp_path, ["png", "log"])
    assert np.abs(flat - srgb).max() > 0.2  # log codes taken as sRGB: a flat, washed-out face


def test_train_prepares_footage_in_the_colorspace_it_names(footage, prepared, tmp_path, compose):
    """`python train.py colorspace=...` prepares a missing cache as prepare.py does: the log delivery converted,
    the same face as the sRGB one; a colorspace the config lacks is refused before any work."""
    overrides = [f"footage={footage}", "crop.resolution=64", "crop.landmarks=dlib", "crop.jitter=1",
                 "data.identities=[log,png]"]
    datamodule = build(compose("train", [*overrides, f"colorspace='{LOGC3}'"], root=tmp_path).data, _convert_="all")
    datamodule.prepare_cache()
    assert IdentityCache(datamodule.cache, "log").index()[0]["colorspace"] == LOGC3
    (log,), (srgb,) = face_colors(datamodule.cache, ["log"]), face_colors(prepared[None], ["png"])
    np.testing.assert_allclose(log, srgb, atol=0.005)
    with pytest.raises(ConfigError, match="colorspace.*Nowhere"):
        build(compose("train", [*overrides, "colorspace=Nowhere"], root=tmp_path).data, _convert_="all")


def test_a_named_working_space_holds_its_values_in_its_own_cache(prepared):
    cache = prepared["ACEScct"]
    assert cache.name != prepared[None].name
    assert IdentityCache(cache, "log").index()[0]["working_space"] == "ACEScct"
    assert json.loads((cache / "log" / "settings.json").read_text())["working_space"] == "ACEScct"
    encoded, acescct = (np.asarray(pack_of(prepared[working], ["log"]).images[0], np.float32)
                        for working in (None, "ACEScct"))  # the same crop: one delivery, one alignment
    from_encoded = color_conversion("sRGB Encoded Rec.709 (sRGB)", "ACEScct").to_working(encoded)
    np.testing.assert_allclose(acescct, from_encoded, atol=2e-3)


def test_prepare_says_how_to_train_on_a_named_working_space(tmp_path):
    settings = CropSettings(resolution=64, landmarks="dlib", working_space="ACEScct")
    report = {"footage": "f", "cache": str(tmp_path), "identities": {}, "faces_kept": 1}
    assert PrepareResult(Path("f"), settings, tmp_path, report).summary()[-1] == (
        "next: python train.py footage=f crop.resolution=64 crop.landmarks=dlib crop.working_space=ACEScct")
