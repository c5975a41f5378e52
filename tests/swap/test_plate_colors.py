"""Plates in their own colorspace through the swap: a log DPX and an ACEScg EXR composited through the working
space come back as they were; a plate without a colorspace is taken as before OCIO, and the log says so."""

import json
import logging

import numpy as np
import PyOpenColorIO as ocio
import pytest

from fusion.io.colorspace import BUILTIN_CONFIG, color_conversion
from fusion.io.plate import read_frame, write_frame
from fusion.swap.composite import composite_face
from fusion.swap.pipeline import SwapOptions, swap

LOGC3 = "ARRI LogC3 (EI800)"


def in_space(linear: np.ndarray, space: str) -> np.ndarray:
    """Linear Rec.709 `linear` as values of the OCIO colorspace `space`."""
    values = np.ascontiguousarray(linear, np.float32).copy()
    config = ocio.Config.CreateFromFile(BUILTIN_CONFIG)
    config.getProcessor("lin_rec709", space).getDefaultCPUProcessor().applyRGB(values)
    return values


@pytest.fixture(scope="module")
def color_plates(tmp_path_factory, photos, oiio_file):
    """hopper's photo as a camera's 10-bit LogC3 DPX and as a half ACEScg EXR, frame 1001 of each."""
    folder = tmp_path_factory.mktemp("color_plates")
    linear = (photos["hopper"].astype(np.float32) / 255) ** 2.2
    codes = np.round(np.clip(in_space(linear, LOGC3), 0, 1) * 1023).astype(np.uint16)
    dpx = oiio_file(folder / "log.1001.dpx", codes << 6 | codes >> 4, "uint16", **{"oiio:BitsPerSample": 10})
    exr = oiio_file(folder / "acescg.1001.exr", in_space(linear, "ACEScg").astype(np.float16), "half")
    return {LOGC3: dpx, "ACEScg": exr}


def face_polygon(size: int) -> np.ndarray:
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    return np.stack([size / 2 + 0.25 * size * np.cos(angles), size * 0.45 + 0.3 * size * np.sin(angles)], 1)


@pytest.mark.parametrize("blend", ["multiband", "alpha"])
@pytest.mark.parametrize("space", [LOGC3, "ACEScg"])
def test_a_self_composite_returns_the_plate(color_plates, space, blend, tmp_path):
    """The plate's own aligned crop (the identity alignment), taken to the working space as the swap takes a
    crop, composited back: within 1e-3 relative inside the matte, bit for bit outside, in the file as well."""
    frame = read_frame(color_plates[space])
    plate, colors = frame.rgb, color_conversion(space, None)
    out, matte = composite_face(plate, colors.to_working(plate), np.eye(2, 3), face_polygon(plate.shape[0]), blend,
                                colors=colors)
    inside = matte > 0
    assert out.dtype == plate.dtype and inside.mean() > 0.1
    np.testing.assert_allclose(out[inside].astype(np.float64), plate[inside], rtol=1e-3)
    np.testing.assert_array_equal(out[~inside], plate[~inside])
    written = tmp_path / color_plates[space].name
    write_frame(written, frame.with_rgb(out))
    again = read_frame(written)
    assert (again.header.pixel_type, again.header.bits) == (frame.header.pixel_type, frame.header.bits)
    np.testing.assert_allclose(again.pixels[inside].astype(np.float64), frame.pixels[inside], rtol=1e-3)
    np.testing.assert_array_equal(again.pixels[~inside], frame.pixels[~inside])


def test_a_swap_takes_the_plate_in_its_colorspace(checkpoint, color_plates, tmp_path, caplog):
    """An ACEScg plate swapped with colorspace=ACEScg: the plate bit for bit outside the matte, the spaces in
    the manifest; the same plate without it is taken as linear Rec.709, and the log says so once."""
    plate = color_plates["ACEScg"]
    with caplog.at_level(logging.INFO, "fusion.io.colorspace"):
        swap(plate, tmp_path / "named.exr", checkpoint, "hopper",
             SwapOptions(colorspace="ACEScg", device="cpu", matte_channel="matte"))
        assert not [r for r in caplog.records if "no colorspace given" in r.message]
        swap(plate, tmp_path / "unnamed.exr", checkpoint, "hopper", SwapOptions(device="cpu"))
    notes = [r.getMessage() for r in caplog.records if "no colorspace given" in r.getMessage()]
    assert len(notes) == 1 and str(plate) in notes[0] and "colorspace=" in notes[0]
    given, named, unnamed = (read_frame(path).pixels for path in (plate, tmp_path / "named.exr",
                                                                  tmp_path / "unnamed.exr"))
    outside = named[..., 3] == 0
    assert 0.02 < 1 - outside.mean() < 0.9
    np.testing.assert_array_equal(named[outside][:, :3], given[outside])
    assert not np.array_equal(named[..., :3], unnamed)  # the face went through other primaries
    manifest = json.loads((tmp_path / "named.exr.json").read_text())
    assert manifest["colorspace"] == {"plate": "ACEScg", "working_space": None, "ocio_config": BUILTIN_CONFIG}
    assert manifest["options"]["colorspace"] == "ACEScg" and manifest["versions"]["OpenColorIO"] == ocio.__version__
    unnamed_manifest = json.loads((tmp_path / "unnamed.exr.json").read_text())
    assert unnamed_manifest["colorspace"] == {"plate": None, "working_space": None, "ocio_config": None}
