"""fusion.io.video and video_read: video at its bit depth, rate and timecode, in a codec that fits its name."""

from fractions import Fraction

import av
import numpy as np
import pytest

from fusion.errors import ConfigError
from fusion.io.footage import read_frames, source_from_path
from fusion.io.video import VideoWriter
from fusion.io.video_read import probe_video
from fusion.swap.options import SwapOptions

#: One 10-bit code step in 16 bits: limited-range luma spans 876 codes.
STEP = 65535 / 876


def gradient(frames: int = 6, dtype=np.uint16) -> list[np.ndarray]:
    """64x48 grey ramps from black to white, each frame a little brighter than the last."""
    top = np.iinfo(dtype).max
    ramp = np.linspace(0, top * 0.9, 64)
    return [np.repeat(np.tile(ramp + top * 0.01 * i, (48, 1))[:, :, None], 3, axis=2).round().astype(dtype)
            for i in range(frames)]


def test_interrupted_video_leaves_no_file(tmp_path):
    with pytest.raises(KeyboardInterrupt), VideoWriter(tmp_path / "cut.mp4") as video:
        video.write(np.zeros((16, 16, 3), np.uint8))
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_a_10_bit_prores_clip_decodes_to_16_bits_with_its_rate_and_timecode(clip, tmp_path):
    ramps = gradient()
    source = source_from_path(clip(tmp_path / "plate.mov", ramps))
    assert (source.frames, source.video.rate, source.video.timecode) == (6, Fraction(24000, 1001), "01:00:00:00")
    assert (source.video.codec, source.video.bits, source.video.subsampled) == ("prores", 10, True)
    whole = dict(read_frames(source, 0, 6))
    assert sorted(whole) == list(range(6))
    for index, frame in whole.items():
        assert frame.pixels.dtype == np.uint16 and frame.pixels.shape == (48, 64, 3) and frame.number == index
        assert np.abs(frame.pixels.astype(int) - ramps[index]).max() <= STEP  # within one 10-bit code
        assert (frame.pixels % 257 != 0).mean() > 0.9  # 10-bit levels, not 8-bit ones scaled
    assert len(np.unique(whole[0].pixels[0, :, 0])) == 64  # every step of the ramp its own level
    for index, frame in read_frames(source, 3, 6):  # a range seeks and numbers its frames as a whole read does
        np.testing.assert_array_equal(frame.pixels, whole[index].pixels)
    cut = source_from_path(tmp_path / "plate.mov", frames="2-4")
    assert [frame.number for _, frame in read_frames(cut, 0, cut.frames)] == [2, 3, 4]
    assert cut.video.timecode_at(cut.number(0)) == "01:00:00:02"


def test_an_8_bit_clip_decodes_to_8_bits(clip, tmp_path):
    source = source_from_path(clip(tmp_path / "plate.mp4", gradient(3, np.uint8), "libx264", "yuv420p", {},
                                   Fraction(25), None))
    assert (source.video.bits, source.video.rate, source.video.timecode) == (8, 25, None)
    _, frame = next(read_frames(source, 0, 1))
    assert frame.pixels.dtype == np.uint8 and frame.channels == ("R", "G", "B")


@pytest.mark.parametrize("name,codec,dtype,written,profile,pix_fmt", [
    ("out.mov", "auto", np.uint16, "prores", "4444", "yuv444p12le"),  # deep, full color: 4444 (decoded at 12 bits)
    ("out.mov", "auto", np.uint8, "prores", "HQ", "yuv422p10le"),
    ("out.mp4", "auto", np.uint8, "h264", "High", "yuv420p"),
    ("out.mp4", "auto", np.uint16, "hevc", "Main 10", "yuv420p10le"),
    ("out.mov", "h264", np.uint16, "h264", "High", "yuv420p"),
    ("out.mkv", "prores_422hq", np.uint8, "prores", "HQ", "yuv422p10le"),
])
def test_the_name_and_the_frames_choose_the_codec_and_codec_overrides_them(tmp_path, name, codec, dtype, written,
                                                                            profile, pix_fmt):
    if written == "hevc" and "libx265" not in av.codecs_available:
        pytest.skip("this PyAV build has no libx265")
    given = gradient(3, dtype)
    with VideoWriter(tmp_path / name, Fraction(24000, 1001), codec, timecode="01:00:00:00") as video:
        for frame in given:
            video.write(frame)
    info = probe_video(tmp_path / name)
    with av.open(str(tmp_path / name)) as container:
        context = container.streams.video[0].codec_context
        assert (context.name, context.profile, context.pix_fmt) == (written, profile, pix_fmt)
        assert (context.colorspace, context.color_range) == (1, 1)  # BT.709, limited range, tagged
    assert (info.frames, info.rate, info.timecode) == (3, Fraction(24000, 1001), "01:00:00:00")
    decoded = dict(read_frames(source_from_path(tmp_path / name), 0, 3))
    def sixteen(pixels):
        return pixels.astype(int) * (257 if pixels.dtype == np.uint8 else 1)

    error = np.abs(sixteen(decoded[2].pixels) - sixteen(given[2]))
    # one code of 10-bit video, or of 8-bit video (limited range) where the frames or the video had 8 bits
    unit = STEP if info.bits > 8 and dtype == np.uint16 else 256 / 219 * 257
    assert error.mean() < unit and error.max() < 3 * unit


def test_alpha_goes_into_prores_4444_and_comes_back(tmp_path):
    rgba = np.concatenate([gradient(1)[0], np.full((48, 64, 1), 30000, np.uint16)], axis=2)
    with VideoWriter(tmp_path / "out.mov") as video:
        video.write(rgba)
    source = source_from_path(tmp_path / "out.mov")
    assert source.video.pix_fmt == "yuva444p12le" and source.video.channels == ("R", "G", "B", "A")  # as decoded
    _, frame = next(read_frames(source, 0, 1))
    assert frame.note == "RGBA: alpha ignored" and np.abs(frame.pixels[..., 3].astype(int) - 30000).max() <= STEP


def test_unknown_or_unfitting_codecs_are_refused_naming_the_choices(tmp_path):
    with pytest.raises(ConfigError, match="codec=vp9: choose one of auto, prores_4444, prores_422hq, h264, h265"):
        VideoWriter(tmp_path / "out.mov", codec="vp9")
    with pytest.raises(ConfigError, match="codec=vp9: choose one of auto, prores_4444"):
        SwapOptions(codec="vp9")
    with pytest.raises(ConfigError, match=r"codec=prores_4444: a \.mp4 file cannot hold it; name the output "
                                          r"\.mov or \.mkv, or choose codec=auto"):
        VideoWriter(tmp_path / "out.mp4", codec="prores_4444")
    assert list(tmp_path.iterdir()) == []
