"""Writing video through PyAV in a codec that fits the file's name, atomically and checked.

`.mov` gets ProRes (4444 for a source with alpha, or deeper than 8 bits with full color such as a
16-bit or EXR sequence; else 422 HQ, 10-bit), `.mp4` and the rest H.264 (8-bit 4:2:0), or H.265
(10-bit) for a deeper source where this PyAV build has libx265 and the container holds it; `codec=`
chooses instead (`CODECS`). The frame rate is kept exactly (24000/1001 stays so) and the
timecode written where the source had one; the YUV matrix is the source's, else BT.709, and tagged.
Frames go to a staged file that takes the output's name only when the encoder and muxer finished
without error; a failure becomes WriteError or DiskFullError naming the file, and any previous output
stays as it was.
"""

import functools
import io
import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from fusion.errors import ConfigError, WriteError, check_choice
from fusion.io.atomic import StagedOutputs, disk_full, is_disk_full
from fusion.io.image import encode
from fusion.io.video_read import SCALER, VideoInfo, as_rate

log = logging.getLogger(__name__)

#: The container each video name is written as.
CONTAINERS = {".mov": "mov", ".mp4": "mp4", ".mkv": "matroska", ".avi": "avi"}
#: The pixel format frames are handed to FFmpeg in, by (alpha, bytes per sample).
_FORMATS = {(False, 1): "rgb24", (True, 1): "rgba", (False, 2): "rgb48le", (True, 2): "rgba64le"}
#: FFmpeg's color tags the writer reads or sets: the RGB, BT.709 and unspecified matrices, limited range.
_RGB, _BT709, _UNSPECIFIED, _LIMITED = 0, 1, 2, 1


@dataclass(frozen=True)
class VideoCodec:
    """One `codec=` choice: its FFmpeg encoder, its pixel format (with alpha; with an odd side, where
    4:2:0 needs even ones) and the encoder's options."""

    encoder: str
    pix_fmt: str
    odd_pix_fmt: str
    alpha_pix_fmt: str | None
    options: tuple[tuple[str, str], ...] = ()


CODECS = {
    "prores_4444": VideoCodec("prores_ks", "yuv444p10le", "yuv444p10le", "yuva444p10le",
                              (("profile", "4"), ("vendor", "apl0"))),
    "prores_422hq": VideoCodec("prores_ks", "yuv422p10le", "yuv422p10le", None, (("profile", "3"), ("vendor", "apl0"))),
    "h264": VideoCodec("libx264", "yuv420p", "yuv444p", None),
    "h265": VideoCodec("libx265", "yuv420p10le", "yuv444p10le", None, (("x265-params", "log-level=error"),)),
}
CODEC_CHOICES = ("auto", *CODECS)


def container_of(path: str | Path) -> str:
    """The container a video named `path` is written as; ConfigError for a name that is not a video's.

    >>> container_of("shot.MOV"), container_of("shot.mp4")
    ('mov', 'mp4')
    """
    suffix = Path(path).suffix.lower()
    if suffix not in CONTAINERS:
        raise ConfigError(f"{path}: not a video name; use {', '.join(CONTAINERS)}")
    return CONTAINERS[suffix]


@functools.cache
def _holds(container: str, encoder: str) -> bool:
    """Whether FFmpeg's `container` muxer takes `encoder`'s stream (ProRes goes in .mov and .mkv only)."""
    try:
        with av.open(io.BytesIO(), "w", format=container) as probe:
            probe.add_stream(encoder)
    except ValueError:
        return False
    return True


def check_codec(codec: str, path: str | Path) -> None:
    """Refuse, before any work, a `codec=` that is not a choice, whose encoder this PyAV build lacks, or that
    the container `path` names cannot hold; `auto` always fits."""
    check_choice("codec", codec, CODEC_CHOICES)
    container = container_of(path)
    if codec == "auto":
        return
    encoder = CODECS[codec].encoder
    if encoder not in av.codecs_available:
        raise ConfigError(f"codec={codec}: this PyAV build has no {encoder} encoder; choose one of "
                          f"{', '.join(name for name, spec in CODECS.items() if spec.encoder in av.codecs_available)}")
    if not _holds(container, encoder):
        fits = [suffix for suffix, name in CONTAINERS.items() if _holds(name, encoder)]
        raise ConfigError(f"codec={codec}: a {Path(path).suffix} file cannot hold it; name the output "
                          f"{' or '.join(fits)}, or choose codec=auto")


def choose_codec(codec: str, path: str | Path, deep: bool, alpha: bool, subsampled: bool) -> str:
    """The codec a video named `path` is written in: `codec` itself unless `auto`, which picks by the name
    and the frames: `.mov` ProRes 4444 for alpha, or frames `deep`er than 8 bits whose source was not
    `subsampled` (4:2:2, 4:2:0), else 422 HQ; other names H.265 for deep frames where it fits, else H.264.

    >>> choose_codec("auto", "a.mov", True, False, False), choose_codec("auto", "a.mov", True, False, True)
    ('prores_4444', 'prores_422hq')
    >>> choose_codec("auto", "a.mp4", False, False, False), choose_codec("h264", "a.mov", True, False, False)
    ('h264', 'h264')
    """
    if codec != "auto":
        return codec
    container = container_of(path)
    if container == "mov":
        return "prores_4444" if alpha or deep and not subsampled else "prores_422hq"
    if deep and CODECS["h265"].encoder in av.codecs_available and _holds(container, CODECS["h265"].encoder):
        return "h265"
    if deep:
        log.warning("%s: written as 8-bit H.264 (no 10-bit codec for it here); name it .mov for 10-bit ProRes", path)
    return "h264"


def _storable(pixels: np.ndarray) -> np.ndarray:
    """uint8 and uint16 pixels as they are; float ones (scene-linear) through the sRGB curve into uint16,
    alpha kept linear."""
    if pixels.dtype in (np.uint8, np.uint16):
        return pixels
    coded = np.concatenate([encode(pixels[:, :, :3]), pixels[:, :, 3:]], axis=2)
    return (np.clip(coded, 0, 1) * 65535 + 0.5).astype(np.uint16)


class VideoWriter:
    """Context manager taking (H, W, 3) RGB or (H, W, 4) RGBA frames of any dtype, written in the codec
    `choose_codec` picks for `codec` and the first frame (uint8: 8 bits; deeper: more) at rate `fps` (a
    fraction, or a number as `as_rate` reads it), starting at `timecode`, with the color tags of the source
    it came from, `like` (which also says whether that source was subsampled).

    With `staged`, the finished file is moved into place by that StagedOutputs' commit (together with the
    files written beside it); without, on a clean exit. `frames`, the number expected, sizes the space a full
    disk is said to need. `quality` (0-10) sets H.264 and H.265's constant quality; ProRes has its own.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "grey.mov"
    >>> with VideoWriter(path, fps=Fraction(24000, 1001), timecode="01:00:00:00") as video:
    ...     for _ in range(3):
    ...         video.write(np.full((32, 48, 3), 128 * 257, np.uint16))
    >>> with av.open(str(path)) as container:
    ...     stream = container.streams.video[0]
    ...     stream.frames, stream.average_rate, stream.metadata["timecode"], stream.codec_context.profile
    (3, Fraction(24000, 1001), '01:00:00:00', '4444')
    """

    def __init__(self, path: Path, fps: float | Fraction = 24.0, codec: str = "auto", timecode: str | None = None,
                 like: VideoInfo | None = None, quality: float = 8, staged: StagedOutputs | None = None,
                 frames: int | None = None):
        check_codec(codec, path)
        self.path, self.choice, self.timecode, self.like = Path(path), codec, timecode, like
        self.rate = fps if isinstance(fps, Fraction) else as_rate(fps)
        self.quality, self.frames = quality, frames
        self._own = staged is None
        self._staged = staged or StagedOutputs()
        self._container: av.container.OutputContainer | None = None
        self._stream = None
        self._file: Path | None = None
        self._reformatter = VideoReformatter()
        self._alpha = False
        self._matrix = _BT709
        #: the codec written, once the first frame chose it
        self.codec: str | None = None
        self.written = 0

    def __enter__(self) -> "VideoWriter":
        return self

    def _start(self, frame: np.ndarray) -> None:
        alpha = frame.shape[2] == 4
        self.codec = choose_codec(self.choice, self.path, frame.dtype != np.uint8, alpha,
                                  self.like is not None and self.like.subsampled)
        spec = CODECS[self.codec]
        height, width = frame.shape[:2]
        self._alpha = alpha and spec.alpha_pix_fmt is not None
        options = dict(spec.options)
        if spec.encoder in ("libx264", "libx265"):
            options["crf"] = str(int((1 - self.quality / 10) * 51))
        self._file = self._staged.path(self.path)
        self._container = av.open(str(self._file), "w", format=container_of(self.path))
        stream = self._container.add_stream(spec.encoder, rate=self.rate, options=options)
        stream.width, stream.height = width, height
        stream.pix_fmt = (spec.alpha_pix_fmt if self._alpha else
                          spec.pix_fmt if width % 2 == 0 and height % 2 == 0 else spec.odd_pix_fmt)
        if spec.encoder == "libx265" and container_of(self.path) in ("mov", "mp4"):
            stream.codec_tag = "hvc1"  # the tag Apple's players look for
        like = self.like
        self._matrix = like.colorspace if like is not None and like.colorspace not in (_RGB, _UNSPECIFIED) else _BT709
        context = stream.codec_context
        context.colorspace, context.color_range = self._matrix, _LIMITED
        if like is not None:
            context.color_primaries, context.color_trc = like.color_primaries, like.color_trc
        if self.timecode:
            stream.metadata["timecode"] = self.timecode
        self._stream = stream

    def _error(self, error: Exception) -> WriteError:
        """The error for a failed encode or mux: a full disk with the space the whole video needs, else the
        encoder's own words."""
        if is_disk_full(error):
            # What filled the disk held only part of the frames sent: the video needs more than it.
            size = self._file.stat().st_size if self._file is not None and self._file.exists() else 0
            return disk_full(self.path, max(size, size * (self.frames or 0) // max(self.written, 1)), at_least=True)
        return WriteError(f"{self.path}: writing {self.codec} failed ({error}); nothing was replaced")

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3|4) frame, choosing the codec at the first; raises WriteError (DiskFullError)
        naming the file where the encoder or the disk fails, so a failed encode never passes silently."""
        try:
            if self._container is None:
                self._start(frame)
            pixels = _storable(frame[:, :, :4] if self._alpha else frame[:, :, :3])
            image = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels),
                                               format=_FORMATS[self._alpha, pixels.itemsize])
            image.colorspace = self._matrix
            coded = self._reformatter.reformat(image, format=self._stream.pix_fmt, dst_color_range=_LIMITED,
                                                interpolation=SCALER)
            coded.pts = self.written
            self._container.mux(self._stream.encode(coded))
        except (av.FFmpegError, OSError) as error:
            raise self._error(error) from error
        self.written += 1

    def _finish(self) -> None:
        """Flush the encoder and close the file, raising if either failed."""
        try:
            try:
                self._container.mux(self._stream.encode())
            finally:
                self._container.close()
        except (av.FFmpegError, OSError) as error:
            raise self._error(error) from error

    def __exit__(self, kind, error, trace) -> None:
        try:
            if self._container is not None:
                if kind is None:
                    self._finish()
                else:
                    try:
                        self._container.close()
                    except (av.FFmpegError, OSError):
                        pass  # the error being raised says more than a close after it
        except BaseException:
            if self._own:
                self._staged.discard()
            raise
        if self._own:
            self._staged.__exit__(kind, error, trace)
