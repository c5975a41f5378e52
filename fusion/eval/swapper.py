"""What every swapper `evaluate` runs shares: held-out crops decoded as an identity, the learned matte's view of
them and the color step; each kind composites the faces back its own way (`crop_swap`, `plate_swap`)."""

from abc import ABC, abstractmethod

import torch

from fusion.eval.heldout import HeldOutBatch
from fusion.eval.plate_heldout import PlateBatch
from fusion.eval.swapped import Swapped
from fusion.model.matte_net import MatteNet
from fusion.swap.color import ColorStep
from fusion.swap.loader import SwapModel


class Swapper(ABC):
    """Decodes a batch's crops as any identity of `model`, through the color step `color` and the learned matte
    `matte` where they run (None: not); `options` are `composite_face`'s, for the subclass's composite."""

    def __init__(self, model: SwapModel, color: ColorStep | None, matte: MatteNet | None, options: dict):
        self.model, self.color, self.matte, self.options = model, color, matte, options

    def decode(self, batch: HeldOutBatch | PlateBatch, identity: int) -> torch.Tensor:
        """The batch's crops decoded as identity number `identity`: (B, 3, R, R) in [0, 1]."""
        return self.model.decode(batch.crops, identity)

    def visible(self, batch: HeldOutBatch | PlateBatch) -> torch.Tensor | None:
        """The learned matte's (B, 1, R, R) probability of visible face in the batch's crops (None: no matte)."""
        return self.matte.predict(batch.crops) if self.matte is not None else None

    def harmonised(self, faces: torch.Tensor, batch: HeldOutBatch | PlateBatch) -> torch.Tensor:
        """Decoded `faces` through the color step against the batch's crops inside their masks (as they are
        where it does not run)."""
        return self.color(faces, batch.crops, batch.masks) if self.color is not None else faces

    @abstractmethod
    def composite(self, faces: torch.Tensor, batch: HeldOutBatch | PlateBatch, visible: torch.Tensor | None
                  ) -> Swapped:
        """Decoded `faces` harmonised and composited into the batch's frames, as `evaluate` scores them, with
        the learned matte's `visible` (None: no matte)."""
