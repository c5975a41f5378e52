"""How `color.py` trains a checkpoint's LUT network (`fusion.color.fit`), checked once when the options are made,
with no torch: a wrong setting is refused before the training's modules load."""

from dataclasses import dataclass

from fusion.errors import ConfigError
from fusion.model.section_configs import ColorConfig


@dataclass
class ColorOptions:
    """How the LUT network is trained (each documented here)."""

    #: entries per axis of each basis LUT (17^3)
    size: int = 17
    #: basis LUTs the network mixes per frame
    basis: int = 8
    #: what the weight-predicting CNN sees (face, plate surround, mask)
    resolution: int = 64
    #: its first level's channels
    width: int = 16
    #: Adam steps
    steps: int = 6000
    batch_size: int = 16
    lr: float = 3e-3
    #: training crops (an equal share per identity, the only ones packed) swapped once through another identity's
    #: decoder
    faces: int = 800
    #: share of draws left ungraded: an ungraded plate keeps the face as decoded
    identity_share: float = 0.2
    #: weight of the basis LUTs' smoothness prior (second differences)
    smoothness: float = 1e-3
    #: weight of their monotonicity prior
    monotonicity: float = 10.0
    #: as in training (data.holdout): the held-out tail scores the LUT
    holdout: float = 0.1
    seed: int = 0
    #: auto (a CUDA GPU if there is one) | cpu | cuda | cuda:1 ...
    device: str = "auto"

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1 or self.faces < 2 or self.lr <= 0:
            raise ConfigError(f"need steps, batch_size >= 1, faces >= 2 and lr > 0, got {self.steps}, "
                              f"{self.batch_size}, {self.faces}, {self.lr}")
        if not 0 <= self.identity_share < 1:
            raise ConfigError(f"identity_share={self.identity_share}: the share of ungraded draws must be in [0, 1)")
        ColorConfig(self.size, self.basis, self.resolution, self.width)
