"""The sizes of the networks a checkpoint's sections hold (`fusion.model.checkpoint`): the learned face matte
(`fusion.model.matte_net`) and the color LUT network (`fusion.model.color_lut`).

They load no torch (`fusion.model` does, on import), so `matte.py`'s and `color.py`'s options check them
when the command line is read, before any network is built.
"""

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class MatteConfig:
    """The matte network's size: input resolution, channels of the first level, levels (each halves the size)."""

    resolution: int = 128
    width: int = 16
    depth: int = 4

    def __post_init__(self):
        if self.width < 4 or self.width % 4 or self.depth < 1 or self.resolution % 2**self.depth:
            raise ValueError(f"need width a multiple of 4 and resolution divisible by 2**depth, got {asdict(self)}")


@dataclass(frozen=True)
class ColorConfig:
    """The LUTs' size and number, the CNN's input resolution and first width."""

    size: int = 17
    basis: int = 8
    resolution: int = 64
    width: int = 16

    def __post_init__(self):
        if self.size < 2 or self.basis < 1 or self.resolution < 16 or self.width < 4:
            raise ValueError(f"need size >= 2, basis >= 1, resolution >= 16 and width >= 4, got {asdict(self)}")
