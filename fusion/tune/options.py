"""How `tune.py` tunes an encoder on a shot (`fusion.tune.shot`), checked once when the options are made, with no
torch: a wrong setting is refused before the tuning's modules load."""

from dataclasses import dataclass

from fusion.errors import ConfigError
from fusion.io.colorspace import check_colorspace, config_name


@dataclass
class ShotTuningOptions:
    """How long and what to tune (each documented here)."""

    #: Adam steps on the encoder; every decoder stays as trained
    steps: int = 200
    lr: float = 1e-4
    batch_size: int = 8
    #: the shot's last frames kept out of tuning, to score it (masked SSIM before and after)
    holdout: float = 0.2
    #: encoder levels to tune, 0 the deepest (the latent) up to the input level (with its input layer);
    #: None: every level
    levels: list[int] | None = None
    seed: int = 0
    #: auto (a CUDA GPU if there is one) | cpu | cuda | cuda:1 ...
    device: str = "auto"
    #: auto (bf16 where the device has it natively, else fp32) | fp32 | bf16 (autocast)
    precision: str = "auto"
    #: processes finding and aligning the shot's faces; 0: one
    workers: int = 0
    #: the shot's OpenColorIO colorspace (e.g. ACEScg), converted to the checkpoint's working space as the
    #: swap converts it; None: 8/16-bit taken as sRGB-encoded, float as linear Rec.709
    colorspace: str | None = None
    #: the OCIO config naming the colorspaces; None: $OCIO, else OCIO's built-in studio config
    ocio_config: str | None = None

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ConfigError(f"need steps >= 1, batch_size >= 1 and lr > 0, got {self.steps}, {self.batch_size}, "
                              f"{self.lr}")
        if not 0 < self.holdout < 1:
            raise ConfigError(f"holdout={self.holdout}: the share of the shot's frames kept out of tuning to score "
                              "it must lie between 0 and 1 (e.g. 0.2)")
        if self.colorspace is not None:
            check_colorspace("colorspace", self.colorspace, config_name(self.ocio_config))
