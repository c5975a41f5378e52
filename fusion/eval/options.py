"""How `evaluate` runs, checked once when the options are made."""

from dataclasses import dataclass

from fusion.errors import ConfigError
from fusion.eval.degrade import check_degradation
from fusion.swap.color import check_color
from fusion.swap.composite import check_blend
from fusion.swap.matte import check_matte


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
    erode: float | None = None
    feather: float | None = None
    #: true: replace metrics.json, contact_sheet.png and timelines/ already in out
    overwrite: bool = False
    #: a shot-tuned encoder (tune.py) to decode through: score a shot before and after tuning
    tuning: str | None = None

    def __post_init__(self):
        check_blend(self.blend, self.quality)
        check_matte(self.matte)
        check_color(self.color)
        check_degradation(self.plate_grade, self.plate_blur, self.plate_jpeg)
        if self.batch_size < 1:
            raise ConfigError(f"batch_size={self.batch_size}: evaluate at least 1 frame at a time")
        if not 0 < self.holdout < 1:
            raise ConfigError(f"holdout={self.holdout}: the held-out share of each source must be in (0, 1), "
                              "as the model was trained with (data.holdout)")

    @property
    def composite(self) -> dict:
        """The arguments of `composite_face` these options set, as metrics.json records them."""
        return {"blend": self.blend, "erode": self.erode, "feather": self.feather, "quality": self.quality}

    @property
    def plate(self) -> dict:
        """The arguments of `fusion.eval.degrade.degrade` these options set, as metrics.json records them."""
        return {"grade": self.plate_grade, "blur": self.plate_blur, "jpeg": self.plate_jpeg}
