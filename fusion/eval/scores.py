"""What `evaluate` keeps of each held-out frame: per-frame numbers in one accumulator per identity and one
per swap, and the contact sheet's first frames; the frames themselves are dropped after their batch.

An identity p's frames are scored three ways: reconstruction (masked SSIM and
PSNR of p's own decode), the analyses of the real frames, and for every
identity q the swap p -> q (p's frame decoded by q's decoder and composited
into it). The swap by p itself (the self-swap) is scored as a swap: it is the
floor of every swap metric; the crops themselves composited back give the
sharpness the model's resolution allows. The same accumulators take crop-space batches
(`fusion.eval.heldout`, `fusion.eval.crop_swap`) and plate-scale ones
(`fusion.eval.plate_heldout`, `fusion.eval.plate_swap`): a batch gives the
network's `crops` and `masks`, the `views` analysed and shown with their
`view_masks`, the template landmarks `points` in crop pixels and `positions`;
a swapper gives `Swapped` views with their sharpness and color.
"""

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from fusion.eval.analyse import Analysis, FaceAnalyser
from fusion.eval.heldout import HeldOutBatch
from fusion.eval.plate_heldout import PlateBatch
from fusion.eval.swapped import Swapped
from fusion.eval.swapper import Swapper
from fusion.metrics.reconstruction import masked_psnr, masked_ssim
from fusion.metrics.temporal import Position, TemporalRatio

#: Frames of each identity on the contact sheet.
SHEET_FRAMES = 6


@dataclass
class PairScores:
    """One swap p -> q over p's held-out frames: each frame's analysis, sharpness ratio and color error, and
    the flicker over frames that follow one another."""

    analyses: list[Analysis | None] = field(default_factory=list)
    sharpness: list[float] = field(default_factory=list)
    color_error: list[float] = field(default_factory=list)
    flicker: TemporalRatio = field(default_factory=TemporalRatio)

    def add(self, swapped: Swapped, batch: HeldOutBatch | PlateBatch, analyses: list[Analysis | None]) -> None:
        """Keep a batch's swaps' scores, their flicker against the batch's views; `analyses` are the swaps'."""
        self.analyses += analyses
        self.sharpness += swapped.sharpness
        self.color_error += swapped.color_error
        self.flicker.add(swapped.views.permute(0, 2, 3, 1).numpy(), batch.views.permute(0, 2, 3, 1).numpy(),
                         batch.view_masks[:, 0].numpy() > 0.5, batch.positions)


class SheetBlock:
    """One identity's block of the contact sheet: a row of its first `SHEET_FRAMES` held-out frames, then a row
    of their swap by each identity; each image `tile` px square (None: as given)."""

    def __init__(self, identities: int, tile: int | None = None):
        self.rows: list[list[torch.Tensor]] = [[] for _ in range(identities + 1)]
        self.tile = tile

    def add(self, rows: list[torch.Tensor]) -> None:
        """Keep the first frames of a batch's views and of each swap of them, until the rows are full."""
        for kept, images in zip(self.rows, rows):
            images = images[:SHEET_FRAMES - len(kept)]
            if self.tile is not None and len(images) and images.shape[-1] != self.tile:
                images = F.interpolate(images, size=(self.tile, self.tile), mode="area")
            kept += [image.clone() for image in images]  # a view would keep the batch

    def image(self) -> torch.Tensor:
        """(3, rows x R, frames x R): the rows one above the other."""
        return torch.cat([torch.cat(images, dim=2) for images in self.rows], dim=1)


class IdentityScores:
    """Everything `evaluate` keeps of identity number `index`'s (of `identities`) held-out frames; the contact
    sheet's images `sheet_tile` px square (None: as the batches' views)."""

    def __init__(self, index: int, identities: int, sheet_tile: int | None = None):
        self.index, self.identities = index, identities
        self.reconstruction: list[torch.Tensor] = []  # per batch, (2, B): masked SSIM and PSNR
        self.positions: list[Position] = []  # (source, frame) of each held-out frame, in the order scored
        self.points: list[np.ndarray] = []  # per batch, (B, 68, 2): the template landmarks in crop pixels
        self.real: list[Analysis | None] = []
        self.self_pair = PairScores()
        #: per frame, the sharpness of the network's own input crop composited back: a perfect decoder's at the
        #: model's resolution, the ceiling the decoder's faces are measured against
        self.ceiling: list[float] = []
        self.pairs = {j: PairScores() for j in range(identities) if j != index}
        self.sheet = SheetBlock(identities, sheet_tile)

    @property
    def self_swap(self) -> list[Analysis | None]:
        """The self-swap's analyses, frame by frame."""
        return self.self_pair.analyses

    def template_points(self) -> np.ndarray:
        """(N, 68, 2) the template landmarks of every frame scored, in crop pixels."""
        return np.concatenate(self.points) if self.points else np.zeros((0, 68, 2))

    def add(self, batch: HeldOutBatch | PlateBatch, swapper: Swapper, analyse: FaceAnalyser) -> None:
        """Score one batch of the identity's held-out frames: its own decode, the real frames, each swap;
        landmarks are kept in the crops' pixels."""
        own = swapper.decode(batch, self.index)
        visible = swapper.visible(batch)
        self.reconstruction.append(torch.stack([masked_ssim(own, batch.crops, batch.masks),
                                                masked_psnr(own, batch.crops, batch.masks)]))
        self.positions += batch.positions
        self.points.append(batch.points)
        size = batch.crops.shape[-1]
        self.real += analyse(batch.views, size)
        rows = [batch.views]
        for j in range(self.identities):
            swapped = swapper.composite(own if j == self.index else swapper.decode(batch, j), batch, visible)
            (self.self_pair if j == self.index else self.pairs[j]).add(swapped, batch, analyse(swapped.views, size))
            rows.append(swapped.views)
        self.sheet.add(rows)
        self.ceiling += swapper.composite(batch.crops, batch, visible).sharpness

    def ssim_psnr(self) -> tuple[float, float]:
        """The mean masked SSIM and PSNR of the identity's own decode over its held-out frames."""
        ssim, psnr = (values.mean().item() for values in torch.cat(self.reconstruction, 1))
        return ssim, psnr
