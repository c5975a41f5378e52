"""Training triplets drawn from a stage pack, and the sampler that orders them.

An item is (source, template, mask, features, identity): the source crop of
identity p, a template crop (the same crop with probability `p_self`,
otherwise any crop of any identity), the source's hull mask and its feature
maps (eyes, brows, mouth) for the landmark-weighted loss. The target is made from
them on the device by the blend, so nothing here is resolution-specific.

Identities are drawn first, each equally likely, then a crop within it (a
template, optionally, by weights that stratify the identity's crops over pose
and expression: `fusion.data.strata`): an
actor filmed for six seconds trains their decoder as often as one filmed for
an hour (drawn over all crops, such an actor got a few percent of the batches
and their decoder barely learned). Such an actor's crops repeat more often, so
a draw of theirs is varied (`fusion.data.augment`) with probability 1 - their
crops / the most any identity has: never for a well-filmed actor.

Batches are a pure function of (seed, step): the sampler needs no state to
resume exactly where a killed run stopped, and every DDP rank takes its own
slice of the same global batch, so the data seen does not depend on how many
processes run.
"""

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from fusion.data.augment import jitter_source
from fusion.data.pack import StagePack
from fusion.io.image import to_unit


def to_float(images: np.ndarray) -> torch.Tensor:
    """(..., H, W, 3) pack pixels to float32 (..., 3, H, W) in [0, 1] (float data as is)."""
    return torch.from_numpy(to_unit(images)).movedim(-1, -3)


class TripletDataset(Dataset):
    """Indexable by (source index, template index, variation seed) from `TripletSampler`; a seed of -1 leaves
    the source as it is."""

    def __init__(self, pack: StagePack):
        self.pack = pack

    def __len__(self) -> int:
        return len(self.pack)

    def __getitem__(self, item: tuple[int, int, int]) -> dict[str, torch.Tensor]:
        source, template, seed = item
        image, mask = self.pack.images[source], self.pack.masks[source] / np.float32(255)
        features = self.pack.features[source] / np.float32(255)
        if seed >= 0:
            image, mask, features = jitter_source(to_unit(image), mask, features, seed)
        return {
            "source": to_float(image),
            "template": to_float(self.pack.images[template]),
            "mask": torch.from_numpy(mask)[None],
            "features": torch.from_numpy(features).movedim(-1, 0),
            "identity": torch.tensor(int(self.pack.identity[source])),
        }


class TripletSampler(Sampler):
    """Endless batches of (source, template, variation seed) index triples, a function of (seed, step),
    identities balanced; the variation seed is -1 (none) or a seed for `jitter_source`.

    `identity` is each crop's identity (the pack's `identity` array).

    >>> sampler = TripletSampler(np.repeat([0, 1], [2, 8]), batch_size=4, seed=1, p_self=0.5)
    >>> first = next(iter(sampler))
    >>> len(first), first == next(iter(sampler))
    (4, True)
    >>> sampler.start_step = 1
    >>> next(iter(sampler)) != first
    True
    """

    def __init__(self, identity: np.ndarray, batch_size: int, seed: int, p_self: float, rank: int = 0,
                 world_size: int = 1, template_weights: np.ndarray | None = None):
        if batch_size % world_size:
            raise ValueError(f"batch size {batch_size} is not divisible by the {world_size} processes")
        identity = np.asarray(identity)
        #: crop indices grouped by identity, each group starting at `_starts[k]` with `_counts[k]` crops
        self._by_identity = np.argsort(identity, kind="stable")
        _, self._counts = np.unique(identity, return_counts=True)
        self._starts = np.concatenate([[0], np.cumsum(self._counts)[:-1]])
        #: with `template_weights` (a weight per crop, `fusion.data.strata`), each identity's cumulative share of
        #: them in `_by_identity`'s order, offset by the identity's number: a template of identity k is the
        #: first crop whose value passes k + a uniform draw
        self._template_cdf = None if template_weights is None else self._cumulative(template_weights)
        #: per identity, the chance that a draw of its crop is varied
        self._vary = 1 - self._counts / self._counts.max()
        self.batch_size, self.seed, self.p_self = batch_size, seed, p_self
        self.rank, self.world_size = rank, world_size
        self.start_step = 0

    def _cumulative(self, weights: np.ndarray) -> np.ndarray:
        weights = np.asarray(weights, np.float64)
        if weights.shape != self._by_identity.shape or not (weights > 0).all():
            raise ValueError(f"expected a positive template weight for each of the {len(self._by_identity)} crops")
        weights = weights[self._by_identity]
        cdf = np.empty_like(weights)
        for k, (start, count) in enumerate(zip(self._starts, self._counts)):
            segment = np.cumsum(weights[start:start + count])
            cdf[start:start + count] = k + segment / segment[-1]
            cdf[start + count - 1] = k + 1
        return cdf

    def _draw(self, rng: np.random.Generator, weighted: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """`batch_size` (crop indices, their identities): an identity uniformly, then one of its crops, uniformly
        or (`weighted`, where the sampler has template weights) by its weight."""
        which = rng.integers(0, len(self._counts), self.batch_size)
        draw = rng.random(self.batch_size)
        if weighted and self._template_cdf is not None:
            return self._by_identity[np.searchsorted(self._template_cdf, which + draw, side="right")], which
        within = (draw * self._counts[which]).astype(np.int64)
        return self._by_identity[self._starts[which] + within], which

    def batch(self, step: int) -> list[tuple[int, int, int]]:
        """This rank's share of global batch `step`."""
        rng = np.random.default_rng([self.seed, step])
        (sources, which), (others, _) = self._draw(rng), self._draw(rng, weighted=True)
        templates = np.where(rng.random(self.batch_size) < self.p_self, sources, others)
        seeds = np.where(rng.random(self.batch_size) < self._vary[which], rng.integers(0, 2**31, self.batch_size), -1)
        share = self.batch_size // self.world_size
        rows = slice(self.rank * share, (self.rank + 1) * share)
        return list(zip(sources[rows].tolist(), templates[rows].tolist(), seeds[rows].tolist()))

    def __iter__(self):
        step = self.start_step
        while True:
            yield self.batch(step)
            step += 1
