"""Plates as a facility has them, through the swap: EXR with overscan, half, PIZ and its own attributes; a 10-bit
DPX sequence; a 10-bit ProRes clip; numbered outputs (`out/sc01.####.exr`) keeping the plate's frame numbers; `frames=`;
the manifest."""

import json
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest
import torch

import fusion.swap.frames
import fusion.swap.pipeline
import fusion.swap.writer
from fusion.errors import ConfigError
from fusion.io.digest import file_sha256
from fusion.io.footage import read_frames, source_from_path
from fusion.io.image import read_image
from fusion.io.plate import read_frame, read_header
from fusion.stopwatch import Stopwatch
from fusion.swap.frames import read_plates
from fusion.swap.pipeline import SwapOptions, swap
from fusion.swap.writer import SwapOutputs

#: The overscan of the EXR plates: 16 px of picture beyond the 512 px display window on every side.
OVERSCAN = 16


@pytest.fixture(scope="module")
def exr_plates(plates, tmp_path_factory, oiio_file):
    """The four-plate shot as a facility's EXRs, frames 1001-1004: scene-linear half RGBA, PIZ, the picture
    extending 16 px beyond the display window, a custom string attribute."""
    folder = tmp_path_factory.mktemp("exr") / "sc01"
    folder.mkdir()
    for number, png in zip(range(1001, 1005), sorted(plates.iterdir())):
        picture = cv2.copyMakeBorder(read_image(png), *(OVERSCAN,) * 4, cv2.BORDER_REFLECT101)
        linear = (picture.astype(np.float32) / 255) ** 2.2
        alpha = np.linspace(0, 1, linear.shape[1], dtype=np.float32)[None, :, None].repeat(linear.shape[0], 0)
        oiio_file(folder / f"sc01_plate.{number}.exr", np.concatenate([linear, alpha], 2).astype(np.float16), "half",
                   ("R", "G", "B", "A"), (-OVERSCAN, -OVERSCAN), (0, 0, 512, 512), compression="piz",
                   **{"facility:shot": "sc01", "facility:take": 3})
    return folder


def test_the_swap_writer_gives_back_an_exr_as_it_came(exr_plates, tmp_path):
    """Read and written back unchanged: pixel type, compression, windows, channels, attributes and pixels as the
    input's, and the file within 10% of its size."""
    source = source_from_path(exr_plates / "sc01_plate.####.exr", frames="1001-1002")
    with SwapOutputs(tmp_path / "out" / "sc01.####.exr", source, SwapOptions()) as outputs:
        for frame in read_plates(source, Stopwatch()):
            outputs.write(frame, frame.plate, np.zeros(frame.plate.shape[:2], np.float32))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["sc01.1001.exr", "sc01.1002.exr"]
    plate, out = read_header(exr_plates / "sc01_plate.1001.exr"), read_header(tmp_path / "out" / "sc01.1001.exr")
    assert (out.pixel_type, out.compression, out.channels) == ("half", "piz", ("R", "G", "B", "A"))
    assert out.data_window == plate.data_window != out.display_window == plate.display_window
    assert {name: out.attributes[name] for name in ("facility:shot", "facility:take")} == {"facility:shot": "sc01",
                                                                                          "facility:take": 3}
    assert plate.attributes.keys() <= out.attributes.keys()
    for number in (1001, 1002):
        written, given = tmp_path / "out" / f"sc01.{number}.exr", exr_plates / f"sc01_plate.{number}.exr"
        np.testing.assert_array_equal(read_frame(written).pixels, read_frame(given).pixels)
        assert abs(written.stat().st_size / given.stat().st_size - 1) < 0.1


def test_an_exr_swap_keeps_every_pixel_outside_the_matte_and_its_frame_numbers(checkpoint, exr_plates, tmp_path):
    """A swap of frames 1002-1004 to `out/sc01.####.exr` with the matte as a channel: the plate's frame numbers in
    every output, all four channels bit for bit outside the matte, alpha everywhere; the manifest says how."""
    output = tmp_path / "out" / "sc01.####.exr"
    report = swap(exr_plates / "sc01_plate.%04d.exr", output, checkpoint, "hopper",
                  SwapOptions(frames="1002-1004", write_matte=True, matte_channel="matte", device="cpu"))
    assert (report.frames, report.swapped, report.no_face) == (3, 2, [2])  # the third, 1004, is the grey frame
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"sc01.{n}.exr" for n in (1002, 1003, 1004)]
    assert sorted(p.name for p in (tmp_path / "out_matte").iterdir()) == [f"sc01.{n}.png" for n in (1002, 1003, 1004)]
    for number in (1002, 1003, 1004):
        plate = read_frame(exr_plates / f"sc01_plate.{number}.exr")
        out = read_frame(tmp_path / "out" / f"sc01.{number}.exr")
        assert out.channels == ("R", "G", "B", "A", "matte") and out.header.compression == "piz"
        assert out.header.pixel_type == "half" and out.header.data_window == plate.header.data_window
        matte = out.pixels[..., 4]
        png = read_image(tmp_path / "out_matte" / f"sc01.{number}.png") / 65535
        np.testing.assert_allclose(matte, png, atol=1e-3)  # the same matte, in half and in 16 bits
        np.testing.assert_array_equal(matte == 0, png == 0)
        outside = matte == 0
        np.testing.assert_array_equal(out.pixels[outside][:, :4], plate.pixels[outside])  # bit for bit
        np.testing.assert_array_equal(out.pixels[..., 3], plate.pixels[..., 3])
        assert (number == 1004) == outside.all()
    manifest = json.loads((tmp_path / "out.json").read_text())
    assert manifest["checkpoint"] == {"path": str(checkpoint), "sha256": file_sha256(checkpoint)}
    assert manifest["frames"] == {"first": 1002, "last": 1004, "count": 3, "swapped": 2, "no_face": [1004]}
    assert manifest["options"]["device"] == "cpu" and manifest["options"]["precision"] in ("fp32", "bf16")
    assert manifest["options"]["frames"] == "1002-1004" and manifest["options"]["landmarks"] == "dlib"
    assert manifest["versions"]["torch"] == torch.__version__ and manifest["versions"]["OpenImageIO"]
    assert manifest["plate"]["header"]["pixel_type"] == "half" and manifest["plate"]["name"] == "sc01_plate.####.exr"
    assert manifest["tuning"] is None and manifest["matte"] == {"kind": "hull", "training": None}
    assert set(manifest["seconds"]) >= {"read", "network", "composite", "write"}


def test_a_10_bit_dpx_sequence_stays_10_bit(tmp_path, photos, oiio_file):
    """Frames 0101-0103 of a 10-bit DPX: written back through the swap writer as 10-bit DPX, the codes outside
    a changed square as they were, inside it the new values at 10 bits."""
    codes = photos["astronaut"][:96, :128].astype(np.uint16) * 4 + 3  # 10-bit codes, not 8-bit ones scaled
    for number in (101, 102, 103):
        oiio_file(tmp_path / f"plate.{number:04d}.dpx", (codes << 6 | codes >> 4).astype(np.uint16), "uint16",
                   **{"oiio:BitsPerSample": 10, "dpx:Transfer": "Printing density"})
    source = source_from_path(tmp_path / "plate.%04d.dpx")
    with SwapOutputs(tmp_path / "out" / "sc01.####.dpx", source, SwapOptions()) as outputs:
        for frame in read_plates(source, Stopwatch()):
            swapped = frame.plate.copy()
            swapped[20:40, 30:60] = 40000
            outputs.write(frame, swapped, np.zeros(frame.plate.shape[:2], np.float32))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["sc01.0101.dpx", "sc01.0102.dpx", "sc01.0103.dpx"]
    out = read_frame(tmp_path / "out" / "sc01.0102.dpx")
    assert (out.header.bits, out.header.attributes["dpx:Transfer"]) == (10, "Printing density")
    back = out.pixels >> 6
    assert (back[20:40, 30:60] == 625).all()  # 40000 lies nearest 625's 16-bit value, 625 << 6 | 625 >> 4 = 40009
    back[20:40, 30:60] = codes[20:40, 30:60]
    np.testing.assert_array_equal(back, codes)
    assert (tmp_path / "out" / "sc01.0102.dpx").stat().st_size == (tmp_path / "plate.0102.dpx").stat().st_size


def test_a_numbered_png_output_keeps_the_plate_numbers(checkpoint, plates, tmp_path):
    """The PNG plates 0001-0004 cut to 2-3 into `renders/sc01.%04d.png`: frames 0002 and 0003, the manifest beside."""
    swap(plates, tmp_path / "renders" / "sc01.%04d.png", checkpoint, "hopper", SwapOptions(frames="2-3"))
    assert sorted(p.name for p in (tmp_path / "renders").iterdir()) == ["sc01.0002.png", "sc01.0003.png"]
    assert json.loads((tmp_path / "renders.json").read_text())["frames"]["first"] == 2


@pytest.mark.parametrize("workers", [2, 3])
def test_frames_read_composited_and_written_side_by_side_are_those_made_one_at_a_time(checkpoint, plates, tmp_path,
                                                                                      monkeypatch, workers):
    """Four plates in one batch, read, composited and written by `workers` threads each: the same frames and
    mattes, bit for bit, in their places, as one at a time."""
    renders = {}
    for count in (1, workers):
        for module in (fusion.swap.frames, fusion.swap.pipeline, fusion.swap.writer):
            monkeypatch.setattr(module, "usable_cores", lambda count=count: count)
        renders[count] = tmp_path / f"by_{count}"
        swap(plates, renders[count], checkpoint, "hopper", SwapOptions(batch_size=4, write_matte=True))
    names = sorted(p.name for p in renders[1].iterdir())
    assert len(names) == 4 and names == sorted(p.name for p in renders[workers].iterdir())
    for folder in ("by_1", "by_1_matte"):
        other = folder.replace("by_1", f"by_{workers}")
        for name in names:
            np.testing.assert_array_equal(read_image(tmp_path / folder / name), read_image(tmp_path / other / name))


def test_outputs_that_cannot_hold_the_plate_are_refused_before_any_work(checkpoint, exr_plates, plates, tmp_path):
    with pytest.raises(ConfigError, match=r"out\.####\.png: png cannot hold half pixels without loss"):
        swap(exr_plates / "sc01_plate.####.exr", tmp_path / "out.####.png", checkpoint, "hopper")
    with pytest.raises(ConfigError, match=r"matte_channel=matte: a matte channel goes into an EXR"):
        swap(plates, tmp_path / "out", checkpoint, "hopper", SwapOptions(matte_channel="matte"))
    with pytest.raises(ConfigError, match=r"matte_channel=A: the plate .* already has that channel"):
        swap(exr_plates, tmp_path / "out", checkpoint, "hopper", SwapOptions(matte_channel="A"))
    assert list(tmp_path.iterdir()) == []


def ten_bit_photo(photo: np.ndarray) -> np.ndarray:
    """`photo` as 16-bit values of 10-bit codes (not 8-bit ones scaled), a little darker so none clips."""
    codes = (photo.astype(np.uint16) * 3 + 40)
    return codes << 6 | codes >> 4


def test_a_10_bit_prores_plate_comes_back_at_its_depth_rate_and_timecode(clip, photos, tmp_path):
    """Frames 2-4 of a 10-bit ProRes 422 HQ plate through the swap writer: `.mov` gives 422 HQ at 10 bits, 24000/1001,
    from 01:00:00:02 (its first frame's timecode), a changed square at its new 16-bit value and the rest as it was
    within ProRes' loss; `.mp4` gives H.265 10-bit, and `codec=h264` 8-bit H.264."""
    plate = ten_bit_photo(photos["astronaut"][:96, :128])
    source = source_from_path(clip(tmp_path / "plate.mov", [np.roll(plate, 2 * i, axis=1) for i in range(6)]),
                              frames="2-4")
    for name, codec in (("out.mov", "auto"), ("out.mp4", "auto"), ("h264.mp4", "h264")):
        with SwapOutputs(tmp_path / name, source, SwapOptions(codec=codec)) as outputs:
            for frame in read_plates(source, Stopwatch()):
                swapped = frame.plate.copy()
                swapped[20:40, 30:60] = 40000
                outputs.write(frame, swapped, np.zeros(frame.plate.shape[:2], np.float32))
        assert outputs.frames.codec == {"out.mov": "prores_422hq", "out.mp4": "h265", "h264.mp4": "h264"}[name]
    out = source_from_path(tmp_path / "out.mov")
    assert (out.video.codec, out.video.pix_fmt) == ("prores", "yuv422p10le")
    assert (out.frames, out.video.rate, out.video.timecode) == (3, Fraction(24000, 1001), "01:00:00:02")
    given, written = dict(read_frames(source, 0, 3)), dict(read_frames(out, 0, 3))
    for index in range(3):
        back, plate = written[index].pixels.astype(int), given[index].pixels.astype(int)
        assert np.abs(back[22:38, 34:56] - 40000).max() < 4 * 75  # within 4 10-bit codes, bar its edge's color
        back[20:40, 30:60] = plate[20:40, 30:60]
        assert np.abs(back - plate).mean() < 75  # the rest as it was, within a 10-bit code on average
        assert (back % 257 != 0).mean() > 0.9
    assert source_from_path(tmp_path / "out.mp4").video.pix_fmt == "yuv420p10le"
    assert source_from_path(tmp_path / "h264.mp4").video.pix_fmt == "yuv420p"


def test_a_10_bit_prores_swap_writes_prores_and_says_so(checkpoint, clip, photos, tmp_path):
    """A whole swap of a 10-bit ProRes plate to `.mov`: ProRes 10-bit at the plate's rate and timecode, the pixels
    outside the matte within 2 10-bit codes of the plate's; the manifest names the codec, the rate and the plate."""
    plate = ten_bit_photo(photos["hopper"])
    clip(tmp_path / "plate.mov", [plate, np.roll(plate, 4, axis=1)], timecode="10:00:00:00")
    swap(tmp_path / "plate.mov", tmp_path / "out.mov", checkpoint, "hopper", SwapOptions(write_matte=True))
    out = source_from_path(tmp_path / "out.mov")
    assert (out.video.codec, out.video.bits, out.video.timecode) == ("prores", 10, "10:00:00:00")
    plates = dict(read_frames(source_from_path(tmp_path / "plate.mov"), 0, 2))
    for index, frame in read_frames(out, 0, 2):
        outside = read_image(tmp_path / "out_matte" / f"matte.{index:06d}.png") == 0
        assert 0.5 < outside.mean() < 0.99 and frame.pixels.dtype == np.uint16
        # as the plate within ProRes' loss on re-encoding a detailed photo: under 2 10-bit codes on average
        assert np.abs(frame.pixels[outside].astype(int) - plates[index].pixels[outside]).mean() < 2 * 75
    manifest = json.loads((tmp_path / "out.mov.json").read_text())
    assert (manifest["options"]["codec"], manifest["options"]["fps"]) == ("prores_422hq", "24000/1001")
    assert {key: manifest["plate"]["header"][key] for key in ("codec", "bits", "rate", "timecode")} == {
        "codec": "prores", "bits": 10, "rate": "24000/1001", "timecode": "10:00:00:00"}
    assert manifest["versions"]["av"] == av.__version__
