"""Plates as a facility has them: numbered frames read and written through OpenImageIO, every bit kept.

A plate is a sequence of frames, one file each (EXR, DPX, TIFF, PNG, JPEG), each with a frame number:
`plate.####.exr` or `plate.%04d.exr` names a sequence by pattern (`FramePattern`); a folder of images
numbers its frames by the digits ending their names (`frame_numbers`). A frame is read with all its
file holds (`Frame`: every channel of its data window, and its `Header`: format, pixel type, windows,
compression, attributes) and written back like its input by default (`write_frame`): half stays half,
10-bit DPX stays 10-bit, and channels and pixels the swap did not change come back bit for bit (where
the compression is lossless). Videos are read and written by `fusion.io.video_read` and `fusion.io.video`
(PyAV); their frames travel as header-less `Frame`s, the clip described by its `Source`.
"""

# Annotations stay text: evaluated, those naming OpenImageIO's classes kept them alive at exit, where its
# bindings (nanobind) then printed a leak report to every command's stderr.
from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

from fusion.errors import ConfigError, WriteError
from fusion.io.atomic import atomic_path, disk_full, free_bytes
from fusion.io.image import ImageReadError

#: The image files read as frames, and the OpenImageIO format each is written as.
FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".tif": "tiff", ".tiff": "tiff", ".exr": "openexr",
           ".dpx": "dpx"}
IMAGE_EXTENSIONS = tuple(FORMATS)
#: The pixel types each format holds, narrowest first: a frame is written in its own type, else the
#: narrowest wider one of its kind (half into float); never across kinds (float into 8-bit PNG).
FORMAT_TYPES = {"png": ("uint8", "uint16"), "jpeg": ("uint8",), "tiff": ("uint8", "uint16", "float"),
                "dpx": ("uint8", "uint16", "float"), "openexr": ("half", "float")}
_WIDER = {"uint8": ("uint8", "uint16"), "uint16": ("uint16",), "half": ("half", "float"), "float": ("float",)}
#: Attributes that belong to one file format: kept when the format is, dropped when it changes.
_FORMAT_PREFIXES = ("oiio:", "openexr:", "exr:", "dpx:", "png:", "tiff:", "jpeg:", "Exif:", "IPTC:", "XMP:")
#: PNG's zlib level (PNG headers do not record one): 1, far faster than zlib's default for slightly larger
#: files, as fusion's own PNGs are written (`fusion.io.image.write_image`).
PNG_COMPRESSION = 1
#: PNG's row filter for the plates it writes: "up" (libpng's PNG_FILTER_UP), faster to write and to read than
#: libpng's adaptive choice for a few percent more bytes (docs/measurements.md).
PNG_FILTER_UP = 32
#: Less free space than this after a write: the disk filled (`write_frame`).
_BLOCK = 4096
_TOKEN = re.compile(r"#+|%0?(\d*)d")


@dataclass(frozen=True)
class Window:
    """A pixel rectangle, origin and size: the data window (the pixels stored) or the display window."""

    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class Header:
    """What a frame's file says of itself: its OpenImageIO `spec` (kept whole to write the frame back
    like it) and `format` (openexr, dpx, tiff, png, jpeg), read out in the properties."""

    format: str
    spec: oiio.ImageSpec

    @property
    def pixel_type(self) -> str:
        """The stored pixel type (uint8, uint16, half, float; a 10-bit DPX is uint16 with `bits` 10)."""
        return str(self.spec.format)

    @property
    def all_half(self) -> bool:
        """Whether every channel is stored as half, so each float32 value `read_frame` gives is a half exactly."""
        return _all_half(self.spec)

    @property
    def bits(self) -> int:
        """Bits per sample as stored: 10 for a 10-bit DPX."""
        return self.spec.get_int_attribute("oiio:BitsPerSample", self.spec.format.size() * 8)

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(self.spec.channelnames)

    @property
    def data_window(self) -> Window:
        return Window(self.spec.x, self.spec.y, self.spec.width, self.spec.height)

    @property
    def display_window(self) -> Window:
        return Window(self.spec.full_x, self.spec.full_y, self.spec.full_width, self.spec.full_height)

    @property
    def compression(self) -> str | None:
        return self.spec.get_string_attribute("compression") or None

    @property
    def parts(self) -> int:
        """Subimages in the file (EXR parts); fusion reads and writes the first."""
        return self.spec.get_int_attribute("oiio:subimages", 1)

    @property
    def attributes(self) -> dict[str, object]:
        """Every attribute of the header by name, as OpenImageIO reads it."""
        return {attribute.name: attribute.value for attribute in self.spec.extra_attribs}

    def describe(self) -> dict:
        """The header in plain data, for a render's manifest."""
        return {"format": self.format, "pixel_type": self.pixel_type, "bits": self.bits, "channels": self.channels,
                "data_window": vars(self.data_window), "display_window": vars(self.display_window),
                "compression": self.compression}


def color_channels(channels: tuple[str, ...]) -> tuple[tuple[int, int, int], str | None] | None:
    """Which channels are R, G and B (a grey image's one channel thrice) and what that leaves out; None if none are.

    >>> color_channels(("R", "G", "B", "A")), color_channels(("R", "G", "B", "A", "Z"))
    (((0, 1, 2), 'RGBA: alpha ignored'), ((0, 1, 2), 'channels A, Z ignored'))
    >>> color_channels(("Y",)), color_channels(("Z", "N"))
    (((0, 0, 0), 'grayscale: replicated to RGB'), None)
    """
    if {"R", "G", "B"} <= set(channels):
        picked = (channels.index("R"), channels.index("G"), channels.index("B"))
        others = [name for i, name in enumerate(channels) if i not in picked]
        note = "RGBA: alpha ignored" if others == ["A"] else f"channels {', '.join(others)} ignored" if others else None
        return picked, note
    if "Y" in channels or len(channels) == 1 or len(channels) == 2 and channels[1] == "A":
        index = channels.index("Y") if "Y" in channels else 0
        return (index, index, index), "grayscale: replicated to RGB"
    return None


@dataclass(frozen=True, eq=False)
class Frame:
    """One frame of a plate: its `number`, its `pixels` (H, W, C) over the data window, one plane per named
    channel (uint8 and uint16 as stored, anything else float32, which holds half exactly), and the
    `header` of its file (None for a video frame: RGB or RGBA, uint8 or, deeper than 8 bits, uint16)."""

    number: int
    pixels: np.ndarray
    channels: tuple[str, ...] = ("R", "G", "B")
    header: Header | None = None

    def __post_init__(self):
        if self.pixels.ndim != 3 or self.pixels.shape[2] != len(self.channels):
            raise ValueError(f"expected pixels (H, W, {len(self.channels)}) for channels {self.channels}, "
                             f"got {self.pixels.shape}")

    @property
    def _color(self) -> tuple[tuple[int, int, int], str | None]:
        found = color_channels(self.channels)
        if found is None:
            raise ValueError(f"no R, G, B or Y channels in {', '.join(self.channels)}")
        return found

    @property
    def rgb(self) -> np.ndarray:
        """The (H, W, 3) color the swap works on (the pixels themselves when they are exactly R, G, B)."""
        picked = self._color[0]
        if picked == (0, 1, 2) and len(self.channels) == 3:
            return self.pixels
        return np.ascontiguousarray(self.pixels[:, :, list(picked)])

    @property
    def note(self) -> str | None:
        """What `rgb` leaves out or makes up (alpha, other channels, grey replicated); None: nothing."""
        return self._color[1]

    def with_rgb(self, rgb: np.ndarray) -> Frame:
        """This frame with its color channels replaced by `rgb` (H, W, 3), every other channel kept bit for bit;
        a grey frame takes the mean of the three (its own grey, where `rgb` replicates it)."""
        picked = self._color[0]
        if rgb.shape != self.pixels.shape[:2] + (3,):
            raise ValueError(f"expected rgb {self.pixels.shape[:2] + (3,)}, got {rgb.shape}")
        if picked == (0, 1, 2) and len(self.channels) == 3:
            return replace(self, pixels=rgb.astype(self.pixels.dtype, copy=False))
        pixels = self.pixels.copy()
        if len(set(picked)) == 3:
            pixels[:, :, list(picked)] = rgb
        else:
            grey = rgb.mean(axis=2, dtype=np.float64)
            pixels[:, :, picked[0]] = np.round(grey) if pixels.dtype.kind == "u" else grey
        return replace(self, pixels=pixels)

    def with_channel(self, name: str, values: np.ndarray) -> Frame:
        """This frame with one more channel, `name`, holding (H, W) `values` (a matte, for instance)."""
        if name in self.channels:
            raise ConfigError(f"the plate already has a channel {name!r}; choose another name for it")
        pixels = np.concatenate([self.pixels, values.astype(self.pixels.dtype)[:, :, None]], axis=2)
        return replace(self, pixels=pixels, channels=self.channels + (name,))


def _number_in(name: str) -> int | None:
    """The frame number ending a file name's stem, if it has one.

    >>> _number_in("plate.1001.exr"), _number_in("f10.png"), _number_in("still.png")
    (1001, 10, None)
    """
    found = re.search(r"(\d+)$", Path(name).stem)
    return int(found[1]) if found else None


def frame_numbers(images: tuple[Path, ...]) -> tuple[int, ...]:
    """Frame numbers of a sequence's images in order: the digits ending each name where every name has them
    and no two share one, else positions from 0 (as a video's frames are numbered).

    >>> frame_numbers((Path("a.1001.exr"), Path("a.1002.exr"))), frame_numbers((Path("x.png"), Path("y.png")))
    ((1001, 1002), (0, 1))
    """
    numbers = tuple(_number_in(path.name) for path in images)
    if None in numbers or len(set(numbers)) < len(numbers):
        return tuple(range(len(images)))
    return numbers


@dataclass(frozen=True)
class FramePattern:
    """A numbered sequence named by pattern: `plate.####.exr` (a `#` per digit) or `plate.%04d.exr`.

    >>> pattern = FramePattern.parse("out/sc01.%04d.exr")
    >>> pattern.path(1001).as_posix(), pattern.name, pattern.stem, pattern.number("sc01.0042.exr")
    ('out/sc01.1001.exr', 'sc01.####.exr', 'sc01', 42)
    >>> FramePattern.parse("out/sc01.exr") is None, pattern.number("sc01.42.exr"), pattern.path(12345).name
    (True, None, 'sc01.12345.exr')
    """

    folder: Path
    prefix: str
    suffix: str
    padding: int

    @classmethod
    def parse(cls, path: str | os.PathLike) -> FramePattern | None:
        """The pattern `path` names, or None where its name has no frame token."""
        path = Path(path)
        tokens = list(_TOKEN.finditer(path.name))
        if not tokens:
            return None
        if len(tokens) > 1:
            raise ConfigError(f"{path}: one frame token per name (#### or %04d), found {len(tokens)}")
        token = tokens[0]
        padding = len(token[0]) if token[0].startswith("#") else int(token[1] or 1)
        return cls(path.parent, path.name[:token.start()], path.name[token.end():], padding)

    @property
    def name(self) -> str:
        return f"{self.prefix}{'#' * self.padding}{self.suffix}"

    @property
    def stem(self) -> str:
        """The name without the frame number and extension: `sc01` for `sc01.####.exr`."""
        return self.prefix.rstrip("._-") or Path(self.suffix).stem.lstrip("._-") or "frames"

    def path(self, number: int) -> Path:
        return self.folder / f"{self.prefix}{number:0{self.padding}d}{self.suffix}"

    def number(self, name: str) -> int | None:
        """The frame number of a file `name` this pattern names, else None (`0042` fits `####`, `42` does not)."""
        found = re.fullmatch(re.escape(self.prefix) + r"(\d+)" + re.escape(self.suffix), name)
        if not found or f"{int(found[1]):0{self.padding}d}" != found[1]:
            return None
        return int(found[1])

    def frames(self) -> list[tuple[int, Path]]:
        """(number, path) of every file in the folder this pattern names, by number."""
        if not self.folder.is_dir():
            return []
        found = ((self.number(path.name), path) for path in self.folder.iterdir() if path.is_file())
        return sorted((number, path) for number, path in found if number is not None)


def shot_name(path: str | os.PathLike) -> str:
    """The name a shot goes by, to name its render in a shot list: a numbered sequence's stem, a video's or an
    image's stem, a folder's name (`output='renders/${fusion_shot:${input}}.mov'`).

    >>> [shot_name(p) for p in ("plates/sc01.####.exr", "plates/sc02.%04d.dpx", "sc03.mov", "plates/sc04", "sc05/")]
    ['sc01', 'sc02', 'sc03', 'sc04', 'sc05']
    """
    pattern = FramePattern.parse(path)
    if pattern is not None:
        return pattern.stem
    path = Path(path)
    return path.stem if path.suffix and not path.is_dir() else path.name


def frame_range(text: str | int) -> tuple[int, int]:
    """`frames=` as (first, last), both kept: `1001-1100` or one frame, `1001`.

    >>> frame_range("1001-1100"), frame_range(1001)
    ((1001, 1100), (1001, 1001))
    """
    found = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", str(text))
    if not found or found[2] is not None and int(found[2]) < int(found[1]):
        raise ConfigError(f"frames={text}: give the first and last frame numbers, e.g. frames=1001-1100, "
                          "or one frame, frames=1001")
    return int(found[1]), int(found[2] if found[2] is not None else found[1])


def format_of(path: str | os.PathLike) -> str:
    """The OpenImageIO format a file is written as, by its extension; ConfigError for one fusion does not write."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ConfigError(f"{path}: '{suffix}' is not an image format fusion writes; use {', '.join(FORMATS)}")
    return FORMATS[suffix]


def read_header(path: str | os.PathLike) -> Header:
    """A frame file's header alone, without its pixels (to check outputs before any work)."""
    image = _open(Path(path))
    try:
        return Header(image.format_name(), oiio.ImageSpec(image.spec()))
    finally:
        image.close()


def _open(path: Path) -> oiio.ImageInput:
    image = oiio.ImageInput.open(str(path))
    if image is None:
        raise ImageReadError(f"{path}: cannot decode this image ({oiio.geterror() or 'unknown format'}); "
                             "re-export it or remove it")
    return image


def read_frame(path: str | os.PathLike, number: int | None = None) -> Frame:
    """Read a frame file as stored: every channel of its first part's data window, and its header.
    `number` defaults to the digits ending its name (else 0). ImageReadError names the file it cannot
    decode, or that holds no color (no R, G, B or Y channel) or deep data."""
    path = Path(path)
    image = _open(path)
    try:
        spec = oiio.ImageSpec(image.spec())
        if spec.deep:
            raise ImageReadError(f"{path}: deep data; export a flat image of the plate")
        stored = {oiio.UINT8: oiio.UINT8, oiio.UINT16: oiio.UINT16}.get(spec.format.basetype)
        uniform = all(channel == spec.format for channel in spec.channelformats)
        pixels = image.read_image(0, 0, 0, spec.nchannels, stored if stored and uniform else oiio.FLOAT)
        if pixels is None:
            raise ImageReadError(f"{path}: cannot decode this image ({image.geterror()}); re-export it or remove it")
        format_name = image.format_name()
    finally:
        image.close()
    channels = tuple(spec.channelnames)
    if color_channels(channels) is None:
        raise ImageReadError(f"{path}: no R, G, B or Y channels (found {', '.join(channels)}); export a beauty pass")
    number = _number_in(path.name) if number is None else number
    return Frame(0 if number is None else number, pixels.reshape(spec.height, spec.width, spec.nchannels),
                 channels, Header(format_name, spec))


def output_type(pixel_type: str, format: str, path: str | os.PathLike) -> str:
    """The pixel type a frame stored as `pixel_type` is written in as `format` (to `path`): its own where the
    format holds it, else the narrowest wider one; a ConfigError where the format cannot hold it without loss.

    >>> output_type("half", "openexr", "out.exr"), output_type("half", "tiff", "out.tif")
    ('half', 'float')
    >>> output_type("half", "png", "out.png")
    Traceback (most recent call last):
    ...
    fusion.errors.ConfigError: out.png: png cannot hold half pixels without loss; write them as .tif, .tiff, .exr, .dpx
    """
    own = pixel_type if pixel_type in _WIDER else "float"
    held = [kind for kind in _WIDER[own] if kind in FORMAT_TYPES[format]]
    if not held:
        fits = ", ".join(suffix for suffix, name in FORMATS.items() if set(_WIDER[own]) & set(FORMAT_TYPES[name]))
        raise ConfigError(f"{path}: {format} cannot hold {own} pixels without loss; write them as {fits}")
    return held[0]


def stored_type(frame: Frame) -> str:
    """The pixel type `frame` was stored in (uint8, uint16, half, float): its header's, else its pixels'."""
    if frame.header is not None:
        return frame.header.pixel_type
    return {"uint8": "uint8", "uint16": "uint16"}.get(frame.pixels.dtype.name, "float")


def output_spec(frame: Frame, path: str | os.PathLike) -> oiio.ImageSpec:
    """The header `frame` is written to `path` with: its own, whole, where the format is its file's (plus any
    channel added); else a new one of `output_type`, with its windows and the attributes no format owns."""
    header, format = frame.header, format_of(path)
    height, width, count = frame.pixels.shape
    if header is not None and header.format == format:
        spec = oiio.ImageSpec(header.spec)
        if count != spec.nchannels:
            formats = tuple(spec.channelformats)
            spec.nchannels = count
            spec.channelnames = frame.channels
            if formats:
                spec.channelformats = formats + (spec.format,) * (count - len(formats))
        return spec
    spec = oiio.ImageSpec(width, height, count, output_type(stored_type(frame), format, path))
    spec.channelnames = frame.channels
    if header is not None:
        source = header.spec
        spec.x, spec.y = source.x, source.y
        spec.full_x, spec.full_y, spec.full_width, spec.full_height = (source.full_x, source.full_y,
                                                                       source.full_width, source.full_height)
        for attribute in source.extra_attribs:
            if attribute.name != "compression" and not attribute.name.startswith(_FORMAT_PREFIXES):
                spec.attribute(attribute.name, attribute.type, attribute.value)
    return spec


def _all_half(spec: oiio.ImageSpec) -> bool:
    """Whether `spec` stores every channel as half."""
    return str(spec.format) == "half" and all(str(channel) == "half" for channel in spec.channelformats)


def to_half(pixels: np.ndarray) -> np.ndarray:
    """float32 `pixels` as float16, rounded as numpy and OpenImageIO round (to nearest, ties to even), by torch's
    vectorised conversion.

    >>> to_half(np.float32([1.0, 1 + 2**-11, 70000.0])).tolist()
    [1.0, 1.0, inf]
    """
    import torch  # here, not with the module: commands read plate names before torch loads

    return torch.from_numpy(np.ascontiguousarray(pixels)).half().numpy()


def _as_stored(pixels: np.ndarray, spec: oiio.ImageSpec) -> np.ndarray:
    """`pixels`, contiguous, converted here where the file stores half throughout (`to_half`: the same file, byte
    for byte, at a fraction of OpenImageIO's cost); else for OpenImageIO to convert."""
    if pixels.dtype == np.float32 and _all_half(spec):
        return to_half(pixels)
    return np.ascontiguousarray(pixels)


def write_frame(path: str | os.PathLike, frame: Frame) -> None:
    """Write `frame` atomically as the format `path` names, like its input (`output_spec`); PNG at zlib level
    `PNG_COMPRESSION`, its rows filtered by `PNG_FILTER_UP`. WriteError (DiskFullError where the disk filled)
    names the file; nothing is replaced on failure. OpenImageIO's PNG writer reports no full disk (it leaves a
    short file), so a write that leaves the disk without a free block counts as one that filled it."""
    path = Path(path)
    spec = output_spec(frame, path)
    if format_of(path) == "png":
        for name, value in (("png:compressionLevel", PNG_COMPRESSION), ("png:filter", PNG_FILTER_UP)):
            if not spec.getattribute(name):
                spec.attribute(name, value)
    with atomic_path(path, frame.pixels.nbytes) as staged:
        output = oiio.ImageOutput.create(str(staged))
        if output is None or not output.open(str(staged), spec):
            raise WriteError(f"{path}: cannot write it ({(output or oiio).geterror()}); check the folder and the name")
        written = output.write_image(_as_stored(frame.pixels, spec))
        closed = output.close()
        if free_bytes(staged) < _BLOCK:
            raise disk_full(path, None)
        if not (written and closed):
            raise WriteError(f"{path}: writing failed ({output.geterror()}); nothing was replaced")
        if format_of(path) == "dpx":
            _name_dpx(staged, path.name)


#: Where a DPX file's generic header holds the file's name, and how many bytes (SMPTE 268M).
_DPX_NAME_OFFSET, _DPX_NAME_BYTES = 36, 100


def _name_dpx(path: Path, name: str) -> None:
    """Write `name` into the file-name field of DPX `path`'s header: OpenImageIO records the path it wrote,
    which for an atomic write is the staged file's, not the frame's."""
    field = name.encode("utf-8")[:_DPX_NAME_BYTES - 1].ljust(_DPX_NAME_BYTES, b"\0")
    with open(path, "r+b") as file:
        file.seek(_DPX_NAME_OFFSET)
        file.write(field)
