"""How `evaluate` and `coverage` run, checked once when the options are made, with no torch: a wrong setting is
refused before their modules load."""

from dataclasses import dataclass

from fusion.errors import ConfigError, check_choice
from fusion.io.colorspace import check_colorspace, config_name
from fusion.metrics.coverage import THRESHOLD
from fusion.swap.options import FindOptions, check_blend, check_color, check_matte

#: The fixed grades a plate can be given (`fusion.eval.degrade`).
GRADES = ("none", "warm")


def check_degradation(grade: str, blur: float, jpeg: int) -> None:
    """Raise a ConfigError naming the key for an unknown grade, a negative blur or a JPEG quality outside 0-100."""
    check_choice("plate_grade", grade, GRADES)
    if blur < 0 or not 0 <= jpeg <= 100:
        raise ConfigError(f"plate_blur={blur}, plate_jpeg={jpeg}: blur is pixels >= 0, jpeg a quality 1-100 (0: none)")


@dataclass
class EvaluateOptions:
    """How `evaluate` runs: the held-out share, where and how fast the network runs, and the swap's
    compositing (`blend`, `erode`, `feather` as `swap.py` takes them, in pixels of the model's output)."""

    #: as in training (data.holdout)
    holdout: float = 0.1
    #: auto (a CUDA GPU if there is one) | cpu | cuda | cuda:1 ...
    device: str = "auto"
    #: fp32 | bf16 (autocast: faster where the device has native bf16; the metrics move slightly)
    precision: str = "fp32"
    #: held-out frames read, decoded and analysed at a time: memory follows it, the metrics do not
    batch_size: int = 16
    #: the swap's compositing (as swap.py blend=), in pixels of the model's output resolution
    blend: str = "multiband"
    #: hull | learned: composite through the checkpoint's learned matte (matte.py)
    matte: str = "hull"
    #: none | match: the face gets the template's blur, noise and compression, as swap.py quality=match
    quality: str = "none"
    #: none | stats | lut: the face harmonised with the template's colors, as swap.py color=
    color: str = "none"
    #: the held-out crops degraded on purpose first (`fusion.eval.degrade`): none | warm, blur px, JPEG quality
    plate_grade: str = "none"
    plate_blur: float = 0.0
    #: 0: not compressed
    plate_jpeg: int = 0
    #: the matte's erosion and feather: pixels of the model's output in crop space, of the plate at plate scale
    erode: float | None = None
    feather: float | None = None
    #: true: replace metrics.json, the contact sheets and timelines/ already in out
    overwrite: bool = False
    #: a shot-tuned encoder (tune.py) to decode through: score a shot before and after tuning
    tuning: str | None = None
    #: also swap the held-out frames as plates (read from the footage; found, aligned, decoded and composited
    #: at the plate's resolution by swap.py's own stages) and score them beside the crop-space metrics
    plate_scale: bool = True
    #: the footage the cache was prepared from, for plate_scale; null: the folder its report.json names
    footage: str | None = None
    #: the footage's OpenColorIO colorspace, as prepare.py was given it (null: its default), and the config
    colorspace: str | None = None
    ocio_config: str | None = None

    def __post_init__(self):
        check_blend(self.blend, self.quality)
        check_matte(self.matte)
        check_color(self.color)
        check_degradation(self.plate_grade, self.plate_blur, self.plate_jpeg)
        if self.plate_scale and self.plate != {"grade": "none", "blur": 0.0, "jpeg": 0}:
            raise ConfigError("plate_grade, plate_blur and plate_jpeg degrade the held-out crops, not the plates: "
                              "give plate_scale=false with them")
        if self.colorspace is not None:
            check_colorspace("colorspace", self.colorspace, config_name(self.ocio_config))
        if self.batch_size < 1:
            raise ConfigError(f"batch_size={self.batch_size}: evaluate at least 1 frame at a time")
        if not 0 < self.holdout < 1:
            raise ConfigError(f"holdout={self.holdout}: the held-out share of each source must be in (0, 1), "
                              "as the model was trained with (data.holdout)")

    @property
    def find(self) -> FindOptions:
        """How plate_scale reads the footage's colors and finds its faces (as the checkpoint's crops were)."""
        return FindOptions(colorspace=self.colorspace, ocio_config=self.ocio_config)

    @property
    def composite(self) -> dict:
        """The arguments of `composite_face` these options set, as metrics.json records them."""
        return {"blend": self.blend, "erode": self.erode, "feather": self.feather, "quality": self.quality}

    @property
    def plate(self) -> dict:
        """The arguments of `fusion.eval.degrade.degrade` these options set, as metrics.json records them."""
        return {"grade": self.plate_grade, "blur": self.plate_blur, "jpeg": self.plate_jpeg}


@dataclass
class CoverageOptions(FindOptions):
    """How the plate is compared with the footage; how it is read and its faces found are the swap's own options
    (`FindOptions`), so the comparison sees the faces the swap will."""

    #: as in training (data.holdout): each source's held-out tail is not footage the decoder was taught
    holdout: float = 0.1
    #: a frame farther than this from every training crop is outside (units: 10 degrees of yaw or pitch, 0.1 of
    #: mouth opening or eye openness; `fusion.metrics.coverage`)
    threshold: float = THRESHOLD
    #: the frames farthest from the footage in the contact sheet, each beside its nearest training crop
    sheet: int = 8

    def __post_init__(self):
        super().__post_init__()
        if not 0 <= self.holdout < 1:
            raise ConfigError(f"holdout={self.holdout}: the held-out share of each source must be in [0, 1), "
                              "as the model was trained with (data.holdout)")
        if self.threshold <= 0:
            raise ConfigError(f"threshold={self.threshold}: give a positive distance (1 is 10 degrees of yaw)")
        if self.sheet < 0:
            raise ConfigError(f"sheet={self.sheet}: give how many frames the contact sheet shows, 0 or more")
