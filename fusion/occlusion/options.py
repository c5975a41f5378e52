"""How `matte.py` trains a checkpoint's face matte (`fusion.occlusion.fit`), checked once when the options are made,
with no torch: a wrong setting is refused before the training's modules load."""

from dataclasses import dataclass

from fusion.errors import ConfigError
from fusion.model.section_configs import MatteConfig


@dataclass
class MatteOptions:
    """How the matte is trained (each documented here)."""

    #: the matte network's input size (crops are resized to it and its matte back)
    resolution: int = 128
    #: channels of its first level (doubling per level)
    width: int = 16
    #: U-Net levels
    depth: int = 4
    #: Adam steps
    steps: int = 2000
    #: labelled crops per step, and as many unlabelled
    batch_size: int = 8
    lr: float = 1e-3
    #: training crops that get synthetic occluders (the truth is known); every crop is unlabelled data
    labelled: int = 200
    #: false: the labelled crops only (no teacher consistency, no prototypes)
    semi_supervised: bool = True
    #: weight of the student-vs-EMA-teacher term on unlabelled crops
    consistency: float = 1.0
    #: weight of the prototype consistency term
    prototype: float = 0.5
    #: the teacher's confidence below which an unlabelled pixel teaches nothing
    threshold: float = 0.9
    #: of the prototype classifier's cosine similarities
    temperature: float = 0.1
    #: the teacher: decay * teacher + (1 - decay) * student after each step
    ema_decay: float = 0.99
    #: as in training (data.holdout): the held-out tail scores the matte
    holdout: float = 0.1
    #: a folder of painted mattes, <painted>/<identity>/<crop key>.png (white: face visible)
    painted: str | None = None
    seed: int = 0
    #: auto (a CUDA GPU if there is one) | cpu | cuda | cuda:1 ...
    device: str = "auto"

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1 or self.lr <= 0 or self.labelled < 1:
            raise ConfigError(f"need steps, batch_size and labelled >= 1 and lr > 0, got {self.steps}, "
                              f"{self.batch_size}, {self.labelled}, {self.lr}")
        if not 0.5 <= self.threshold < 1 or not 0 < self.ema_decay < 1:
            raise ConfigError(f"threshold={self.threshold} must be in [0.5, 1) and ema_decay={self.ema_decay} "
                              "in (0, 1)")
        MatteConfig(self.resolution, self.width, self.depth)
