"""Reading video through PyAV at the source's bit depth, with its frame rate and timecode.

A clip is described once (`probe_video` -> `VideoInfo`: frames, exact rate as a fraction, timecode,
codec, pixel format, color tags), decoded in frame ranges (`decode_video`) so that workers can decode
one file in parallel, and each frame converted (`video_pixels`): 8-bit sources come back as uint8 RGB,
deeper ones (10-bit ProRes, 12-bit ProRes 4444, 10-bit H.265) as uint16 RGB, never 8; a source with
alpha as RGBA. Frames are numbered by their timestamps (time x rate, as OpenCV numbers them), so a
range read after a seek numbers its frames as a read from the start does. YUV becomes RGB with the
matrix the file is tagged with; an untagged file is taken as BT.709 from 720 lines up, else BT.601,
as players take it.
"""

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

#: FFmpeg's YUV matrix tags (AVColorSpace) that `video_pixels` reads or sets.
_BT709, _UNSPECIFIED, _BT601 = 1, 2, 6
#: How YUV and RGB are converted: the ffmpeg command's own default flags (bicubic color interpolated to every
#: pixel, accurate rounding), nearer the original than swscale's bare default. (Bilinear with these flags
#: scrambles 10-bit 4:2:0 in this FFmpeg.)
SCALER = Interpolation.BICUBIC | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT
_TIMECODE = re.compile(r"(\d\d):(\d\d):(\d\d)([:;.,])(\d\d)")


def as_rate(fps: float) -> Fraction:
    """A frame rate given as a number, as the exact fraction a video states: 23.976 is 24000/1001.

    >>> as_rate(23.976), as_rate(29.97), as_rate(25.0), as_rate(12.5)
    (Fraction(24000, 1001), Fraction(30000, 1001), Fraction(25, 1), Fraction(25, 2))
    """
    ntsc = Fraction(round(fps * 1.001) * 1000, 1001)
    if fps != int(fps) and abs(fps - ntsc) < 2e-3:
        return ntsc
    return Fraction(fps).limit_denominator(1000)


def timecode_after(timecode: str, frames: int, rate: Fraction) -> str:
    """The SMPTE timecode `frames` frames after `timecode` at `rate`: non-drop `HH:MM:SS:FF`, or drop-frame
    `HH:MM:SS;FF` (29.97 and 59.94 skip frame numbers 0 and 1, or 0-3, each minute but every tenth).

    >>> timecode_after("01:00:00:00", 30, Fraction(24000, 1001)), timecode_after("23:59:59:23", 1, Fraction(24))
    ('01:00:01:06', '00:00:00:00')
    >>> timecode_after("00:00:59;29", 1, Fraction(30000, 1001)), timecode_after("00:09:59;29", 1, Fraction(30000, 1001))
    ('00:01:00;02', '00:10:00;00')
    """
    hours, minutes, seconds, separator, frame = _TIMECODE.fullmatch(timecode).groups()
    base = round(rate)
    drop = round(base / 15) if separator in ";," else 0
    total_minutes = int(hours) * 60 + int(minutes)
    count = (total_minutes * 60 + int(seconds)) * base + int(frame) + frames
    count -= drop * (total_minutes - total_minutes // 10)
    if drop:
        per_ten, per_minute = base * 600 - drop * 9, base * 60 - drop
        tens, rest = divmod(count, per_ten)
        count += drop * 9 * tens + (drop * ((rest - drop) // per_minute) if rest > drop else 0)
    count %= base * 86400
    seconds_total, frame = divmod(count, base)
    return (f"{seconds_total // 3600:02d}:{seconds_total // 60 % 60:02d}:{seconds_total % 60:02d}"
            f"{separator}{frame:02d}")


@dataclass(frozen=True)
class VideoInfo:
    """What a video file says of itself: its frame count, exact frame rate, timecode of its first frame
    (None: it has none), size, codec, pixel format (None where no frame could be decoded to tell: taken as
    8-bit) and color tags (FFmpeg's AVColorSpace, primaries and transfer numbers), read once to decode it
    and to write a render like it."""

    frames: int
    rate: Fraction
    width: int
    height: int
    codec: str
    pix_fmt: str | None
    timecode: str | None = None
    colorspace: int = _UNSPECIFIED
    color_primaries: int = _UNSPECIFIED
    color_trc: int = _UNSPECIFIED

    @property
    def _format(self) -> av.VideoFormat:
        return av.VideoFormat(self.pix_fmt or "yuv420p")

    @property
    def bits(self) -> int:
        """Bits per sample as coded: 10 for ProRes 422 HQ (yuv422p10le), 8 for most H.264."""
        return max(component.bits for component in self._format.components)

    @property
    def alpha(self) -> bool:
        return any(component.is_alpha for component in self._format.components)

    @property
    def subsampled(self) -> bool:
        """Whether its color is stored at less than full resolution (4:2:2, 4:2:0)."""
        return self._format.chroma_width(64) < 64 or self._format.chroma_height(64) < 64

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels its frames are decoded to: RGB, or RGBA for a source with alpha."""
        return ("R", "G", "B", "A") if self.alpha else ("R", "G", "B")

    @property
    def pixel_type(self) -> str:
        """What its frames are decoded as: uint8 up to 8 bits, else uint16."""
        return "uint8" if self.bits <= 8 else "uint16"

    def timecode_at(self, index: int) -> str | None:
        """The timecode of frame `index` (0: the first), None where the file has none."""
        return None if self.timecode is None else timecode_after(self.timecode, index, self.rate)

    def describe(self) -> dict:
        """The clip in plain data, for a render's manifest."""
        return {"format": "video", "codec": self.codec, "pix_fmt": self.pix_fmt, "bits": self.bits,
                "pixel_type": self.pixel_type, "channels": self.channels, "width": self.width,
                "height": self.height, "frames": self.frames, "rate": str(self.rate), "timecode": self.timecode}


def _frame_count(container: av.container.InputContainer, stream: av.video.VideoStream, rate: Fraction) -> int:
    """The frames the file declares, else those its duration holds at `rate` (Matroska declares none)."""
    if stream.frames:
        return stream.frames
    if stream.duration and stream.time_base:
        return round(stream.duration * stream.time_base * rate)
    return round(Fraction(container.duration or 0, av.time_base) * rate)


def probe_video(path: str | Path) -> VideoInfo | None:
    """The description of the video file at `path` (its first video stream); None where FFmpeg cannot
    open it, it has no video stream or declares no frames (empty, corrupt, not a video)."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            context = stream.codec_context
            rate = stream.average_rate or stream.guessed_rate or Fraction(24)
            frames = _frame_count(container, stream, rate)
            tags = {key.lower(): value for key, value in (*container.metadata.items(), *stream.metadata.items())}
            timecode = tags.get("timecode")  # Matroska spells it TIMECODE
            if not frames:
                return None
            return VideoInfo(frames, Fraction(rate), context.width, context.height, context.name, context.pix_fmt,
                             timecode if timecode and _TIMECODE.fullmatch(timecode) else None,
                             context.colorspace, context.color_primaries, context.color_trc)
    except (av.FFmpegError, UnicodeDecodeError):
        return None


def _tagged(frame: av.VideoFrame) -> av.VideoFrame:
    """`frame` with a YUV matrix named where its file names none: BT.709 from 720 lines up, else BT.601."""
    if frame.colorspace == _UNSPECIFIED and not frame.format.is_rgb:
        frame.colorspace = _BT709 if frame.height >= 720 else _BT601
    return frame


def decode_video(path: str | Path, info: VideoInfo, start: int, stop: int) -> Iterator[tuple[int, av.VideoFrame]]:
    """Yield (frame number, decoded frame) for the frames numbered [start, stop) of the video at `path`, described
    by `info`, still in the file's pixel format: `video_pixels` converts each, anywhere (on another thread: the
    conversion of a 4K frame costs more than its decode, and lets go of Python's lock).

    A range seeks to the key frame before `start` and decodes from there (from the file's start where it
    cannot seek). A damaged packet loses its frame
    (the others keep their numbers); a file that stops early or cannot be opened yields what decoded.
    """
    try:
        container = av.open(str(path))
    except av.FFmpegError:
        return
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        origin = stream.start_time or 0
        per_frame = 1 / (info.rate * stream.time_base)
        if start:
            try:
                container.seek(origin + math.floor(start * per_frame), stream=stream)
            except av.FFmpegError:
                pass  # a file that cannot seek (a damaged index) is decoded from its start
        last = -1
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                continue
            for frame in frames:
                number = last + 1 if frame.pts is None else round((frame.pts - origin) / per_frame)
                if number >= stop:
                    return
                if number > last and number >= start:
                    yield number, frame
                last = max(last, number)


def video_pixels(frame: av.VideoFrame, info: VideoInfo) -> np.ndarray:
    """A frame `decode_video` gave, as (H, W, 3) RGB or (H, W, 4) RGBA pixels, uint8 or uint16 (`info.pixel_type`)."""
    target = "rgb24" if info.pixel_type == "uint8" else "rgb48le"
    if info.alpha:
        target = "rgba" if info.pixel_type == "uint8" else "rgba64le"
    return VideoReformatter().reformat(_tagged(frame), format=target, interpolation=SCALER).to_ndarray()
