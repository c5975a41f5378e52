"""fusion.io.colorspace: colorspaces through OCIO's built-in config to the working space and back; the default
is fusion's encoding before OCIO, bit for bit; unknown names are refused with close ones."""

import numpy as np
import pytest

from fusion.data.prepare_options import PrepareOptions
from fusion.errors import ConfigError
from fusion.io.colorspace import BUILTIN_CONFIG, ColorConversion, color_conversion, config_name
from fusion.io.image import decode, encode, srgb_encode, to_uint8
from fusion.swap.options import SwapOptions

#: ARRI LogC3 (EI800)'s code value for 18% grey.
LOGC3_GREY = 0.391


def natural_colors(centre: float, spread: float, shape=(64, 64)) -> np.ndarray:
    """Plate-like colors: a grey level spread over `centre` +- `spread`, each channel nudged by up to 20%
    of it (skin, sky, foliage; not the spectral locus, where float32 matrices cancel)."""
    rng = np.random.default_rng(0)
    level = centre + spread * rng.uniform(-1, 1, shape + (1,))
    return (level * (1 + 0.2 * rng.uniform(-1, 1, shape + (3,)))).astype(np.float32)


def test_the_default_is_fusions_encoding_bit_for_bit():
    rng = np.random.default_rng(1)
    default = ColorConversion()
    for pixels in (rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), rng.integers(0, 65536, (8, 8, 3), dtype=np.uint16),
                   rng.uniform(-0.1, 6, (8, 8, 3)).astype(np.float32)):
        values = default.to_working(pixels)
        np.testing.assert_array_equal(values, encode(pixels))
        np.testing.assert_array_equal(default.from_working(values, pixels.dtype), decode(values, pixels.dtype))
        np.testing.assert_array_equal(default.to_display(pixels), to_uint8(pixels))
        assert default.to_stored(pixels) is pixels and default.record() == {}
    assert color_conversion(None, None, "/no/such/config.ocio") == default  # no config is read


@pytest.mark.parametrize("working", [None, "ACEScct"])
@pytest.mark.parametrize("space, values", [("ACEScg", natural_colors(1.0, 0.99)),
                                           ("ARRI LogC3 (EI800)", natural_colors(0.45, 0.3))])
def test_a_colorspace_round_trips_through_the_working_space(space, values, working):
    colors = color_conversion(space, working)
    back = colors.from_working(colors.to_working(values), np.float32)
    np.testing.assert_allclose(back, values, rtol=0, atol=1e-5)
    assert colors.record() == {"colorspace": space, **({"working_space": working} if working else {})}


def test_the_working_space_sees_a_plate_by_its_primaries_and_curve():
    """18% grey is 18% grey to the network whether it came as ACEScg or as LogC3 code 0.391; ACEScg's red
    primary, outside Rec.709, is no longer taken as Rec.709's red (what an EXR meant before OCIO)."""
    grey = srgb_encode(np.float32(0.18))
    acescg, logc3 = color_conversion("ACEScg", None), color_conversion("ARRI LogC3 (EI800)", None)
    np.testing.assert_allclose(acescg.to_working(np.full((1, 1, 3), 0.18, np.float32)), grey, atol=1e-4)
    np.testing.assert_allclose(logc3.to_working(np.full((1, 1, 3), LOGC3_GREY, np.float32)), grey, atol=2e-3)
    red = acescg.to_working(np.array([[[1, 0, 0]]], np.float32))[0, 0]
    assert red[0] > 1.2 and red[1] < -0.1  # Rec.709's red would be (1, 0, 0)
    code = np.full((1, 1, 3), round(LOGC3_GREY * 65535), np.uint16)  # a 10/16-bit log plate, as read
    np.testing.assert_allclose(logc3.to_working(code), grey, atol=2e-3)
    assert logc3.to_display(code)[0, 0].tolist() == [118] * 3  # detectors see a grey, not a flat log image
    plate = np.round(natural_colors(0.45, 0.3) * 65535).astype(np.uint16)
    seen = np.round(np.clip(logc3.to_working(plate), 0, 1) * 255)
    assert np.abs(logc3.to_display(plate) - seen).max() <= 1  # one OCIO pass, a level off at most


def test_a_named_working_space_holds_its_own_values():
    colors = color_conversion("ACEScg", "ACEScct")
    values = colors.to_working(np.full((1, 1, 3), 0.18, np.float32))
    np.testing.assert_allclose(values, 0.4136, atol=1e-4)  # ACEScct's code for 0.18
    np.testing.assert_array_equal(colors.to_stored(np.full((1, 1, 3), 0.18, np.float32)), values)
    linear = color_conversion("ACEScg", None).to_stored(np.full((1, 1, 3), 0.18, np.float32))
    np.testing.assert_allclose(linear, 0.18, atol=1e-4)  # the default working space's crops: linear Rec.709


def test_unknown_colorspaces_are_refused_with_close_names():
    with pytest.raises(ConfigError, match=r"colorspace=ACEScgg: no such colorspace in the OCIO config "
                                          r"ocio://studio-config-latest; close names: ACEScg, ACEScc"):
        color_conversion("ACEScgg", None)
    with pytest.raises(ConfigError, match=r"colorspace=LogC3: .* close names: ARRI LogC3 \(EI800\)"):
        SwapOptions(colorspace="LogC3")
    with pytest.raises(ConfigError, match=r"crop.working_space=ACES cct: .* close names: .*ACEScct"):
        color_conversion(None, "ACES cct")
    with pytest.raises(ConfigError, match=r"colorspace=logc4 .*ARRI LogC4"):
        PrepareOptions(colorspace="logc4 ")
    with pytest.raises(ConfigError, match=r"ocio_config=/no/such.ocio: OCIO cannot load this config"):
        SwapOptions(colorspace="ACEScg", ocio_config="/no/such.ocio")


def test_the_config_is_ocio_config_else_the_environment_else_the_built_in_one(monkeypatch):
    monkeypatch.delenv("OCIO", raising=False)
    assert config_name() == BUILTIN_CONFIG
    monkeypatch.setenv("OCIO", "ocio://cg-config-latest")
    assert config_name() == "ocio://cg-config-latest" and config_name("show.ocio") == "show.ocio"
    assert color_conversion("ACEScg", None).config == "ocio://cg-config-latest"
