"""The held-out crops `evaluate` scores: the tail of each identity's footage that training validated on,
read a batch at a time from the memory-mapped pack.

Only a batch is ever held as float, so memory follows the batch, not the
held-out set. Each crop keeps its (source, frame number) position, so flicker
pairs only frames that follow one another in one source.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from fusion.data.cache import IdentityCache
from fusion.data.pack import PackSpec, StagePack, build_pack
from fusion.data.triplets import to_float
from fusion.eval.degrade import degrade
from fusion.faces.hull import hull_polygon
from fusion.metrics.temporal import Position
from fusion.progress import progress


@dataclass(frozen=True)
class HeldOutBatch:
    """A batch of one identity's held-out crops: `crops` (B, 3, R, R) in [0, 1] (degraded where asked), their
    face `masks` (B, 1, R, R) in [0, 1], hull `polygons` and cached landmarks `points` (B, 68, 2) in crop
    pixels, and (source, frame) `positions`. In crop space the faces are scored and shown as the network sees
    them: their `views` are the crops."""

    crops: torch.Tensor
    masks: torch.Tensor
    polygons: list[np.ndarray]
    positions: list[Position]
    points: np.ndarray

    @property
    def views(self) -> torch.Tensor:
        """The crops, as analysed and shown."""
        return self.crops

    @property
    def view_masks(self) -> torch.Tensor:
        """The crops' face masks."""
        return self.masks


def crop_positions(cache: Path, pack: StagePack) -> list[Position]:
    """(source, frame number) of each crop of `pack`, from its identity's index: which frames follow one another."""
    where = {f"{name}/{record['key']}": (record["source"], record["frame"])
             for name in pack.identities for record in IdentityCache(cache, name).index()}
    return [where[key] for key in pack.keys]


class HeldOut:
    """Every held-out crop of `identities` in `cache` at `resolution` (the pack holds nothing unread), the
    crops' hulls enlarged by `mask_enlarge` as the checkpoint's were, degraded by `plate` (the arguments of
    `fusion.eval.degrade.degrade`)."""

    def __init__(self, cache: Path, identities: list[str], resolution: int, holdout: float, mask_enlarge: float,
                 plate: dict):
        self.pack = build_pack(cache, identities, PackSpec(resolution, 10**6, 0, "val", holdout))
        self.rows = [np.flatnonzero(self.pack.identity == i) for i in range(len(identities))]
        self.positions = crop_positions(cache, self.pack)
        self.mask_enlarge, self.plate = mask_enlarge, plate

    def positions_of(self, identity: int) -> list[Position]:
        """(source, frame) of identity number `identity`'s held-out crops, in order."""
        return [self.positions[row] for row in self.rows[identity]]

    def batch(self, rows: np.ndarray) -> HeldOutBatch:
        """The crops of pack rows `rows`, read and made float."""
        crops = degrade(to_float(self.pack.images[rows]), **self.plate)
        masks = torch.from_numpy(self.pack.masks[rows] / np.float32(255))[:, None]
        polygons = [hull_polygon(points, self.mask_enlarge) for points in self.pack.landmarks[rows]]
        return HeldOutBatch(crops, masks, polygons, [self.positions[row] for row in rows], self.pack.landmarks[rows])

    def batches(self, identity: int, name: str, size: int) -> Iterator[HeldOutBatch]:
        """Identity number `identity`'s held-out crops, `size` at a time, in order, with a progress bar."""
        rows = self.rows[identity]
        for start in progress(range(0, len(rows), size), desc=f"{name}: held-out frames", unit="batch"):
            yield self.batch(rows[start:start + size])
