"""fusion.io.plate on real files made with OpenImageIO: what a frame's file holds comes back as it was, sequences
are found by pattern and cut by frame number, and what cannot work is refused naming the file and the fix."""

from dataclasses import replace

import numpy as np
import OpenImageIO as oiio
import pytest

from fusion.errors import ConfigError
from fusion.io.footage import read_frames, source_from_path
from fusion.io.image import ImageReadError
from fusion.io.plate import Frame, read_frame, read_header, write_frame


def test_every_channel_and_attribute_survives_a_write_like_the_input(tmp_path, photos, oiio_file):
    """An RGBAZ half EXR (DWAB, lossy, is not used: lossless ZIP) read and written back: the same file content."""
    rgb = photos["hopper"][:64, :96].astype(np.float32) / 255
    pixels = np.concatenate([rgb, np.full((64, 96, 1), 0.5, np.float32), rgb[..., :1] * 100], axis=2).astype(np.float16)
    plate = oiio_file(tmp_path / "plate.0007.exr", pixels, "half", ("R", "G", "B", "A", "Z"), compression="zip",
                      **{"facility:shot": "sc01"})
    frame = read_frame(plate)
    assert frame.number == 7 and frame.channels == ("R", "G", "B", "A", "Z") and frame.pixels.dtype == np.float32
    assert frame.rgb.shape == (64, 96, 3) and frame.note == "channels A, Z ignored"
    write_frame(tmp_path / "out.exr", frame.with_rgb(frame.rgb))
    back = read_header(tmp_path / "out.exr")
    assert (back.pixel_type, back.compression, back.channels) == ("half", "zip", frame.channels)
    assert back.attributes["facility:shot"] == "sc01"
    np.testing.assert_array_equal(read_frame(tmp_path / "out.exr").pixels, frame.pixels)


def test_a_dpx_header_names_the_frame_not_the_staged_file(tmp_path, oiio_file):
    """A 10-bit DPX written through the atomic stage: its header's file-name field (bytes 36-135) is the
    frame's own name, as a facility's tools show it."""
    pixels = np.linspace(0, 1, 8 * 8 * 3, dtype=np.float32).reshape(8, 8, 3)
    plate = oiio_file(tmp_path / "plate.1001.dpx", (pixels * 1023).astype(np.uint16), "uint16",
                      **{"oiio:BitsPerSample": 10})
    write_frame(tmp_path / "sc01.1001.dpx", read_frame(plate))
    field = (tmp_path / "sc01.1001.dpx").read_bytes()[36:136]
    assert field == b"sc01.1001.dpx".ljust(100, b"\0")
    assert read_header(tmp_path / "sc01.1001.dpx").bits == 10
    np.testing.assert_array_equal(read_frame(tmp_path / "sc01.1001.dpx").pixels, read_frame(plate).pixels)


def test_a_plate_with_no_color_or_a_broken_file_is_named(tmp_path, oiio_file):
    depth = oiio_file(tmp_path / "depth.exr", np.zeros((4, 4, 2), np.float32), "float", ("Z", "N"))
    with pytest.raises(ImageReadError, match=r"depth\.exr: no R, G, B or Y channels \(found Z, N\)"):
        read_frame(depth)
    (tmp_path / "broken.dpx").write_bytes(b"SDPX not really")
    with pytest.raises(ImageReadError, match=r"broken\.dpx: cannot decode"):
        read_frame(tmp_path / "broken.dpx")


def test_a_format_that_cannot_hold_the_pixels_is_refused(tmp_path, oiio_file):
    half = Frame(0, np.zeros((4, 4, 3), np.float32), header=read_header(
        oiio_file(tmp_path / "a.exr", np.zeros((4, 4, 3), np.float16), "half")))
    with pytest.raises(ConfigError, match=r"b\.png: png cannot hold half pixels without loss; write them as .*\.exr"):
        write_frame(tmp_path / "b.png", half)
    write_frame(tmp_path / "b.tif", half)
    assert read_header(tmp_path / "b.tif").pixel_type == "float" and not (tmp_path / "b.png").exists()


def test_sequences_by_pattern_keep_their_numbers_and_frames_cuts_them(tmp_path, oiio_file):
    for number in (1001, 1002, 1003, 1010):
        oiio_file(tmp_path / f"plate.{number:04d}.exr", np.full((4, 4, 3), number, np.float16), "half")
    oiio_file(tmp_path / "plate.101.exr", np.zeros((4, 4, 3), np.float16), "half")  # not ####
    for pattern in ("plate.####.exr", "plate.%04d.exr"):
        source = source_from_path(tmp_path / pattern)
        assert source.numbers == (1001, 1002, 1003, 1010) and source.path == tmp_path
    cut = source_from_path(tmp_path / "plate.####.exr", frames="1002-1010")
    assert [(index, frame.number, float(frame.pixels[0, 0, 0])) for index, frame in read_frames(cut, 0, cut.frames)] \
        == [(0, 1002, 1002.0), (1, 1003, 1003.0), (2, 1010, 1010.0)]
    with pytest.raises(ConfigError, match=r"frames=2000-2100: .* has frames 1001-1010; choose frames among them"):
        source_from_path(tmp_path / "plate.####.exr", frames="2000-2100")
    with pytest.raises(ConfigError, match=r"frames=1100-1001: give the first and last frame numbers"):
        source_from_path(tmp_path / "plate.####.exr", frames="1100-1001")
    with pytest.raises(FileNotFoundError, match=r"no frames named shot\.####\.dpx in"):
        source_from_path(tmp_path / "shot.####.dpx")


def test_all_half_only_where_every_channel_is_stored_as_half(tmp_path, oiio_file):
    """The find pass's 8-bit copy takes the half table only where `all_half`: a half EXR, not a float one nor
    one whose depth channel is float."""
    pixels = np.linspace(0, 1, 4 * 4 * 4, dtype=np.float32).reshape(4, 4, 4) + np.float32(1e-4)
    half = oiio_file(tmp_path / "half.exr", pixels[..., :3], "half")
    whole = oiio_file(tmp_path / "float.exr", pixels[..., :3], "float")
    spec = oiio.ImageSpec(4, 4, 4, "half")
    spec.channelnames, spec.channelformats = ("R", "G", "B", "Z"), ("half", "half", "half", "float")
    output = oiio.ImageOutput.create(str(tmp_path / "mixed.exr"))
    assert output.open(str(tmp_path / "mixed.exr"), spec) and output.write_image(pixels) and output.close()
    assert [read_header(path).all_half for path in (half, whole, tmp_path / "mixed.exr")] == [True, False, False]
    mixed = read_frame(tmp_path / "mixed.exr").pixels
    assert mixed[..., 3].astype(np.float16).astype(np.float32).tolist() != mixed[..., 3].tolist()


def test_a_half_plate_is_written_with_openimageios_rounding(tmp_path, oiio_file):
    """Float32 pixels into a half EXR are converted before OpenImageIO sees them: every value half-way between two
    halves, either side of it, past the largest half, NaN and signed zero come out as OpenImageIO's own conversion
    stores them."""
    halves = np.arange(0x7C00, dtype=np.uint16).view(np.float16).astype(np.float64)
    ties = ((halves[:-1] + halves[1:]) / 2).astype(np.float32)
    values = np.concatenate([ties, np.nextafter(ties, np.inf), np.nextafter(ties, -np.inf), -ties,
                             np.float32([np.nan, np.inf, 65519.99, 65520, 1e9, -0.0, 2.98e-8, 2.99e-8])])
    pixels = np.resize(values, 3 * 160 * 160).reshape(160, 160, 3)
    plate = oiio_file(tmp_path / "plate.exr", pixels.astype(np.float16), "half")
    frame = read_frame(plate)
    write_frame(tmp_path / "ours.exr", replace(frame, pixels=pixels))
    own = oiio_file(tmp_path / "own.exr", pixels, "half")
    read = lambda path: oiio.ImageInput.open(str(path)).read_image(0, 0, 0, 3, oiio.HALF).view(np.uint16)
    np.testing.assert_array_equal(read(tmp_path / "ours.exr"), read(own))
