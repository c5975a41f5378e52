"""What `evaluate` keeps of each held-out frame: per-frame numbers in one accumulator per identity and one
per swap, and the contact sheet's first frames; the frames themselves are dropped after their batch.

An identity p's frames are scored three ways: reconstruction (masked SSIM and
PSNR of p's own decode), the analyses of the real frames, and for every
identity q the swap p -> q (p's frame decoded by q's decoder and composited
into it). The swap by p itself (the self-swap) keeps only its analyses: it is
the floor of the landmark error.
"""

from dataclasses import dataclass, field

import torch

from fusion.color.scores import mean_color_error
from fusion.eval.analyse import Analysis, FaceAnalyser
from fusion.eval.crop_swap import CropSwapper
from fusion.eval.heldout import HeldOutBatch
from fusion.metrics.reconstruction import masked_psnr, masked_ssim
from fusion.metrics.sharpness import sharpness_ratio
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

    def add(self, swapped: torch.Tensor, batch: HeldOutBatch, analyses: list[Analysis | None]) -> None:
        """Score a batch of composited swaps (B, 3, R, R) against the batch's crops; `analyses` are the swaps'."""
        self.analyses += analyses
        self.sharpness += sharpness_ratio(swapped, batch.crops, batch.masks).tolist()
        self.color_error += mean_color_error(swapped, batch.crops, batch.masks).tolist()
        self.flicker.add(swapped.permute(0, 2, 3, 1).numpy(), batch.crops.permute(0, 2, 3, 1).numpy(),
                         batch.masks[:, 0].numpy() > 0.5, batch.positions)


class SheetBlock:
    """One identity's block of the contact sheet: a row of its first `SHEET_FRAMES` held-out crops, then a row
    of their swap by each identity."""

    def __init__(self, identities: int):
        self.rows: list[list[torch.Tensor]] = [[] for _ in range(identities + 1)]

    def add(self, rows: list[torch.Tensor]) -> None:
        """Keep the first frames of a batch's crops and of each swap of them, until the rows are full."""
        for kept, images in zip(self.rows, rows):
            kept += [image.clone() for image in images[:SHEET_FRAMES - len(kept)]]  # a view would keep the batch

    def image(self) -> torch.Tensor:
        """(3, rows x R, frames x R): the rows one above the other."""
        return torch.cat([torch.cat(images, dim=2) for images in self.rows], dim=1)


class IdentityScores:
    """Everything `evaluate` keeps of identity number `index`'s (of `identities`) held-out frames."""

    def __init__(self, index: int, identities: int):
        self.index, self.identities = index, identities
        self.reconstruction: list[torch.Tensor] = []  # per batch, (2, B): masked SSIM and PSNR
        self.positions: list[Position] = []  # (source, frame) of each held-out frame, in the order scored
        self.real: list[Analysis | None] = []
        self.self_swap: list[Analysis | None] = []
        self.pairs = {j: PairScores() for j in range(identities) if j != index}
        self.sheet = SheetBlock(identities)

    def add(self, batch: HeldOutBatch, swapper: CropSwapper, analyse: FaceAnalyser) -> None:
        """Score one batch of the identity's held-out crops: its own decode, the real frames, each swap."""
        own = swapper.decode(batch, self.index)
        visible = swapper.visible(batch)
        self.reconstruction.append(torch.stack([masked_ssim(own, batch.crops, batch.masks),
                                                masked_psnr(own, batch.crops, batch.masks)]))
        self.positions += batch.positions
        self.real += analyse(batch.crops)
        rows = [batch.crops]
        for j in range(self.identities):
            swapped = swapper.composite(own if j == self.index else swapper.decode(batch, j), batch, visible)
            if j == self.index:
                self.self_swap += analyse(swapped)
            else:
                self.pairs[j].add(swapped, batch, analyse(swapped))
            rows.append(swapped)
        self.sheet.add(rows)

    def ssim_psnr(self) -> tuple[float, float]:
        """The mean masked SSIM and PSNR of the identity's own decode over its held-out frames."""
        ssim, psnr = (values.mean().item() for values in torch.cat(self.reconstruction, 1))
        return ssim, psnr
