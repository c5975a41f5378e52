"""Color through OpenColorIO: footage's or a plate's pixels into the crops' working space and back.

`colorspace=` names the pixels' colorspace in an OCIO config (`ocio_config=`, else `$OCIO`, else OCIO's
built-in studio config, offline); the crop settings' `working_space` names the space the network's crops
are in. None for both is fusion's encoding before OCIO (`fusion.io.image.encode`: 8- and 16-bit pixels taken
as sRGB-encoded, float as linear Rec.709, the network seeing the sRGB curve), bit for bit. The default
working space stays that curve on linear Rec.709, so a named colorspace joins caches made before OCIO;
a named working space is taken as it is. Conversions run over the pixels given (a crop, a face's box),
never a whole frame the swap does not change; processors are made once per (config, space, space).
"""

import difflib
import functools
import logging
import os
from dataclasses import dataclass

import numpy as np
import PyOpenColorIO as ocio

from fusion.errors import ConfigError
from fusion.io.image import decode, encode, srgb_decode, srgb_encode, to_integers, to_uint8, to_unit

log = logging.getLogger(__name__)

#: The config used where neither `ocio_config=` nor `$OCIO` names one: built into OCIO, so offline.
BUILTIN_CONFIG = "ocio://studio-config-latest"
#: Linear Rec.709 (sRGB primaries): where footage without a colorspace is taken to be (8- and 16-bit after
#: the sRGB curve's inverse), and what the default working space is the sRGB curve of.
LINEAR = "lin_rec709"


def config_name(ocio_config: str | None = None) -> str:
    """The OCIO config to use: `ocio_config`, else `$OCIO`, else `BUILTIN_CONFIG`."""
    return ocio_config or os.environ.get("OCIO") or BUILTIN_CONFIG


@functools.lru_cache(maxsize=8)
def load_config(name: str) -> ocio.Config:
    """The OCIO config file or `ocio://` URI `name`; a ConfigError where OCIO cannot load it."""
    try:
        return ocio.Config.CreateFromFile(name)
    except (ocio.Exception, ocio.ExceptionMissingFile) as error:
        raise ConfigError(f"ocio_config={name}: OCIO cannot load this config ({error}); give a config.ocio file, "
                          f"or leave ocio_config and $OCIO unset for {BUILTIN_CONFIG}") from None


def close_names(name: str, config: ocio.Config, count: int = 5) -> list[str]:
    """Up to `count` colorspaces of `config` whose name or an alias holds `name`, or resembles it.

    >>> close_names("logc3", load_config(BUILTIN_CONFIG))
    ['ARRI LogC3 (EI800)']
    """
    spelled = {spelling: space.getName() for space in config.getColorSpaces()
               for spelling in (space.getName(), *space.getAliases())}
    holding = [spelling for spelling in spelled if name.lower() in spelling.lower()]
    resembling = difflib.get_close_matches(name, list(spelled), count, 0.6)
    return list(dict.fromkeys(spelled[spelling] for spelling in holding + resembling))[:count]


def check_colorspace(key: str, name: str, config: str) -> str:
    """`name`'s own name in the OCIO config `config` (it may be an alias); a ConfigError naming `key`, the
    config and a few close names where the config has no such colorspace."""
    found = load_config(config).getColorSpace(name)
    if found is None:
        close = close_names(name, load_config(config))
        hint = f"close names: {', '.join(close)}" if close else "none is close; list them with ociocheck"
        raise ConfigError(f"{key}={name}: no such colorspace in the OCIO config {config}; {hint}")
    return found.getName()


#: OCIO's bit depth of each pixel type `ColorConversion.to_display` takes as it is.
_DEPTHS = {np.dtype(np.uint8): ocio.BIT_DEPTH_UINT8, np.dtype(np.uint16): ocio.BIT_DEPTH_UINT16,
           np.dtype(np.float32): ocio.BIT_DEPTH_F32}


@functools.lru_cache(maxsize=32)
def _processor(config: str, source: str, target: str) -> ocio.CPUProcessor:
    return load_config(config).getProcessor(source, target).getOptimizedCPUProcessor(ocio.OPTIMIZATION_LOSSLESS)


@functools.lru_cache(maxsize=32)
def _display(config: str, source: str, linear: str, depth: ocio.BitDepth) -> ocio.CPUProcessor:
    """`source` pixels of bit `depth` to 8-bit sRGB-encoded linear Rec.709 (`linear`) in one OCIO pass: the
    sRGB curve is OCIO's, and integers in and out are OCIO's too, a whole frame costing a fraction of numpy's."""
    group = ocio.GroupTransform()
    group.appendTransform(ocio.ColorSpaceTransform(src=source, dst=linear))
    group.appendTransform(ocio.ExponentWithLinearTransform(gamma=[2.4] * 3 + [1.0], offset=[0.055] * 3 + [0.0],
                                                           direction=ocio.TRANSFORM_DIR_INVERSE))
    return load_config(config).getProcessor(group).getOptimizedCPUProcessor(depth, ocio.BIT_DEPTH_UINT8,
                                                                            ocio.OPTIMIZATION_DEFAULT)


@dataclass(frozen=True)
class ColorConversion:
    """Pixels in `colorspace` to the crops' `working` space and back, through the OCIO `config` (names as the
    config spells them; make one with `color_conversion`, which checks them). None, None: fusion's encoding
    before OCIO."""

    colorspace: str | None = None
    working: str | None = None
    config: str = BUILTIN_CONFIG

    @property
    def is_default(self) -> bool:
        """Neither space named: `fusion.io.image.encode` and `decode`, no OCIO."""
        return self.colorspace is None and self.working is None

    def _convert(self, values: np.ndarray, source: str | None, target: str | None) -> np.ndarray:
        """`values`, a float32 array of this object's own, converted in place from `source` to `target` (None:
        `LINEAR`)."""
        source, target = self._name(source), self._name(target)
        if source != target:
            _processor(self.config, source, target).applyRGB(values)
        return values

    def _name(self, space: str | None) -> str:
        return space or load_config(self.config).getColorSpace(LINEAR).getName()

    def _linear_or_own(self, pixels: np.ndarray) -> np.ndarray:
        """Stored pixels as float32 values in `colorspace` (None: linear Rec.709, 8/16-bit through the curve's
        inverse)."""
        unit = np.ascontiguousarray(to_unit(pixels))
        return srgb_decode(unit) if self.colorspace is None and pixels.dtype.kind == "u" else unit

    def to_working(self, pixels: np.ndarray) -> np.ndarray:
        """(..., 3) stored pixels (uint8, uint16 or float) as float32 values in the working space."""
        if self.is_default:
            return encode(pixels)
        values = self._convert(self._linear_or_own(pixels), self.colorspace, self.working)
        return srgb_encode(values) if self.working is None else values

    def from_working(self, values: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """The inverse of `to_working`: working-space values back to pixels of `dtype` (integers rounded and
        clipped to their range)."""
        if self.is_default:
            return decode(values, dtype)
        values = srgb_decode(values) if self.working is None else np.array(values, np.float32)
        values = self._convert(np.ascontiguousarray(values), self.working, self.colorspace)
        if np.issubdtype(np.dtype(dtype), np.floating):
            return values.astype(dtype)
        if self.colorspace is None:
            values = srgb_encode(values)
        return to_integers(values, dtype)

    def to_stored(self, pixels: np.ndarray) -> np.ndarray:
        """A crop as the cache stores it: as read by default; float32 otherwise, linear Rec.709 for the default
        working space (a pack puts it through the sRGB curve, as any float crop) and else working values."""
        if self.is_default:
            return pixels
        if self.working is None:
            return self._convert(self._linear_or_own(pixels), self.colorspace, None)
        return self.to_working(pixels)

    def to_display(self, pixels: np.ndarray) -> np.ndarray:
        """An 8-bit sRGB copy of (..., 3) `pixels` for detectors (`fusion.io.image.to_uint8` where no colorspace
        is named); a level off `to_working`'s numbers in a few pixels (OCIO's fast curve)."""
        if self.colorspace is None:
            return to_uint8(pixels)
        pixels = np.ascontiguousarray(pixels if pixels.dtype in _DEPTHS else pixels.astype(np.float32))
        out = np.empty(pixels.shape, np.uint8)
        width, size = pixels.size // 3, pixels.itemsize
        _display(self.config, self.colorspace, self._name(None), _DEPTHS[pixels.dtype]).apply(
            ocio.PackedImageDesc(pixels, width, 1, 3, _DEPTHS[pixels.dtype], size, 3 * size, 3 * size * width),
            ocio.PackedImageDesc(out, width, 1, 3, ocio.BIT_DEPTH_UINT8, 1, 3, 3 * width))
        return out

    def record(self) -> dict:
        """The spaces a crop was converted between, for its record (empty by default, as records were)."""
        named = {"colorspace": self.colorspace, "working_space": self.working}
        return {key: value for key, value in named.items() if value is not None}


def color_conversion(colorspace: str | None, working_space: str | None,
                     ocio_config: str | None = None) -> ColorConversion:
    """The conversion of pixels in `colorspace` to the crops' `working_space`, both checked in the config
    `config_name(ocio_config)` (ConfigError naming close names); None, None needs no config.

    >>> color_conversion("lin_ap1", None).colorspace
    'ACEScg'
    """
    if colorspace is None and working_space is None:
        return ColorConversion()
    config = config_name(ocio_config)
    if (colorspace is None or working_space is None) and load_config(config).getColorSpace(LINEAR) is None:
        raise ConfigError(f"the OCIO config {config} has no linear Rec.709 space ({LINEAR}), which footage without "
                          "a colorspace and the default working space go through; name both colorspace= and "
                          "crop.working_space, or add the alias to the config")
    return ColorConversion(colorspace and check_colorspace("colorspace", colorspace, config),
                           working_space and check_colorspace("crop.working_space", working_space, config), config)


def note_default_colors(where: str) -> None:
    """Say in the log that `where`'s pixels are taken as before OCIO, there being no colorspace named."""
    log.info("%s: no colorspace given: 8- and 16-bit pixels taken as sRGB-encoded, float (EXR) as linear Rec.709; "
             "name it with colorspace= (e.g. colorspace=ACEScg)", where)
