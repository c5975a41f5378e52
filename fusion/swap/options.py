"""What a compositor sets for a swap, checked once when the options are made."""

from dataclasses import dataclass

from fusion.errors import ConfigError
from fusion.io.plate import frame_range
from fusion.swap.colour import check_color
from fusion.swap.composite import check_blend
from fusion.swap.matte import check_matte


@dataclass
class SwapOptions:
    """What a compositor sets for a shot (`conf/swap.yaml` documents each). Unknown choices are refused here,
    before any work; what needs the checkpoint (a learned matte, a colour network) when it is loaded."""

    device: str = "auto"
    precision: str = "auto"
    blend: str = "multiband"
    #: hull | learned (the checkpoint's occlusion-aware matte, from matte.py)
    matte: str = "hull"
    #: none | stats | lut (the checkpoint's colour LUT network, from color.py): the face takes the plate's grade
    color: str = "none"
    erode: float | None = None
    feather: float | None = None
    grain: bool = False
    #: none | match: the face gets the plate's blur, noise and compression (`fusion.swap.quality`)
    quality: str = "none"
    write_matte: bool = False
    #: also put the matte into each EXR frame as a channel of this name (e.g. `matte`); None: not
    matte_channel: str | None = None
    #: the plate's frame numbers to swap, `1001-1100` or `1001`; None: every frame
    frames: str | None = None
    preview: bool = False
    preview_height: int = 540
    overwrite: bool = False
    fps: float | None = None
    batch_size: int = 8
    #: how faces are found and tracked; None: as the checkpoint's crops were made
    landmarks: str | None = None
    jitter: int | None = None
    smooth_window: int | None = None
    #: a shot-tuned encoder from tune.py to load over the checkpoint's (`fusion.swap.tuned_encoder`)
    tuning: str | None = None

    def __post_init__(self):
        check_blend(self.blend, self.quality)
        check_matte(self.matte)
        check_color(self.color)
        if self.frames is not None:
            frame_range(self.frames)
        if self.batch_size < 1:
            raise ConfigError(f"batch_size={self.batch_size}: decode at least 1 frame at a time")
