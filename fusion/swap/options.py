"""What a compositor sets for a swap, checked once when the options are made: how the plate is read and its
faces found (`FindOptions`, which coverage_report.py shares so it sees the faces the swap will), and the rest.

The choices of the blend, matte and color steps and their checks live here, with no torch, so a command
line is refused before the steps' modules load; `evaluate` checks its compositing with them too."""

from dataclasses import dataclass

from fusion.errors import ConfigError, check_choice
from fusion.io.colorspace import check_colorspace, config_name
from fusion.io.plate import frame_range
from fusion.io.video import CODEC_CHOICES

#: multiband: the face composite rule (`fusion.swap.composite`); alpha: a plain alpha over
BLENDS = ("multiband", "alpha")
#: none | match: the face degraded to the plate's blur, noise and compression (`fusion.swap.quality`)
QUALITY = ("none", "match")
#: hull: the landmarks' hull, whatever is in front of the face; learned: the hull where the checkpoint's
#: learned matte (matte.py) says visible face, so an occluder stays the plate's.
MATTES = ("hull", "learned")
#: none | stats | lut (`fusion.swap.color`)
COLORS = ("none", "stats", "lut")


def check_blend(blend: str, quality: str = "none") -> None:
    """Raise a ConfigError naming the choices if `blend` is not one of `BLENDS` or `quality` not one of `QUALITY`."""
    check_choice("blend", blend, BLENDS)
    check_choice("quality", quality, QUALITY)


def check_matte(matte: str) -> None:
    """Raise a ConfigError naming the choices for an unknown `matte`.

    >>> check_matte("alpha")
    Traceback (most recent call last):
    fusion.errors.ConfigError: matte=alpha: choose one of hull, learned
    """
    check_choice("matte", matte, MATTES)


def check_color(color: str) -> None:
    """Raise a ConfigError naming the choices for an unknown `color`.

    >>> check_color("warm")
    Traceback (most recent call last):
    fusion.errors.ConfigError: color=warm: choose one of none, stats, lut
    """
    check_choice("color", color, COLORS)


@dataclass
class FindOptions:
    """Which frames of the plate are read, in which colorspace, and how their faces are found (the swap's find
    stage, `fusion.swap.frames.find_plate_faces`)."""

    #: the plate's frame numbers to work on, `1001-1100` or `1001`; None: every frame
    frames: str | None = None
    #: the plate's OpenColorIO colorspace (e.g. ACEScg, ARRI LogC3 (EI800)): its face box is converted to the
    #: checkpoint's working space and back; None: 8/16-bit taken as sRGB-encoded, float as linear Rec.709
    colorspace: str | None = None
    #: the OCIO config naming the colorspaces; None: $OCIO, else OCIO's built-in studio config
    ocio_config: str | None = None
    #: dlib | fan | auto, and how faces are tracked; null: as the checkpoint's training crops were made
    landmarks: str | None = None
    jitter: int | None = None
    smooth_window: int | None = None

    def __post_init__(self):
        if self.frames is not None:
            frame_range(self.frames)
        if self.colorspace is not None:
            check_colorspace("colorspace", self.colorspace, config_name(self.ocio_config))


@dataclass
class SwapOptions(FindOptions):
    """What a compositor sets for a shot (each documented here; `python swap.py --cfg job` prints them).
    Unknown choices are refused here, before any work; what needs the checkpoint (a learned matte, a color
    network) when it is loaded."""

    #: auto (a CUDA GPU if there is one) | cpu | cuda | cuda:1 ...
    device: str = "auto"
    #: auto (bf16 where the device has it natively, else fp32) | fp32 | bf16 (autocast)
    precision: str = "auto"
    #: multiband | alpha
    blend: str = "multiband"
    #: hull (the landmarks' hull, whatever covers the face) | learned (the hull minus what the checkpoint's
    #: learned matte sees in front of the face; train it with python matte.py)
    matte: str = "hull"
    #: none | stats (Lab mean and spread of the plate's face) | lut (the checkpoint's image-adaptive 3D LUT,
    #: trained with python color.py: follows the plate's grade, not its actor)
    color: str = "none"
    #: plate pixels to shrink the face matte by (negative grows it); null: 6% of the face's width
    erode: float | None = None
    #: plate pixels of soft edge inside the matte; null: 5% of the face box for alpha, 3% for multiband
    feather: float | None = None
    #: add noise so the face has the plate's noise level in the face region (the decoder's is lower)
    grain: bool = False
    #: none | match: blur, grain and JPEG-compress the face to the plate's measured quality (the face only,
    #: never the plate; where the plate is better, that step does nothing; `fusion.swap.quality`)
    quality: str = "none"
    #: 16-bit PNG mattes in <output>_matte/ (the matte the face was composited through)
    write_matte: bool = False
    #: also put the matte into each EXR frame as a channel of this name (e.g. `matte`); None: not
    matte_channel: str | None = None
    #: plate | swap side by side in <output>_preview.mp4, for review
    preview: bool = False
    preview_height: int = 540
    #: true: replace a previous output (an input, or the checkpoint, is never replaced)
    overwrite: bool = False
    #: video output rate (23.976 is written as 24000/1001); null: the plate's (24 for image sequences)
    fps: float | None = None
    #: a video output's codec: auto (.mov: ProRes 4444 for alpha or deep full-color plates, else 422 HQ;
    #: other names H.265 10-bit for deep plates where it fits, else H.264) | prores_4444 | prores_422hq |
    #: h264 (8-bit) | h265 (10-bit)
    codec: str = "auto"
    batch_size: int = 8
    #: a shot-tuned encoder from tune.py to load over the checkpoint's (`fusion.swap.tuned_encoder`)
    tuning: str | None = None

    def __post_init__(self):
        super().__post_init__()
        check_blend(self.blend, self.quality)
        check_matte(self.matte)
        check_color(self.color)
        check_choice("codec", self.codec, CODEC_CHOICES)
        if self.batch_size < 1:
            raise ConfigError(f"batch_size={self.batch_size}: decode at least 1 frame at a time")
