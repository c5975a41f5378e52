"""The LightningDataModule: footage -> cache -> the current phase's stage packs.

`prepare_data` (one process of the job) prepares the cache and builds the
packs; `setup` only opens them. The training loop sets `phase` before each
fit, so every phase trains on its own (smaller, sharper) pack.
"""

from pathlib import Path
from typing import Callable

import lightning as L
from torch.utils.data import DataLoader

from fusion.data.cache import CropSettings, cache_location
from fusion.data.pack import PackSpec, StagePack, build_pack
from fusion.data.prepare import check_cache_apart, prepare
from fusion.data.prepare_options import PrepareOptions
from fusion.data.strata import template_weights
from fusion.data.triplets import TripletDataset, TripletSampler
from fusion.demo.footage import make_demo_footage
from fusion.errors import ConfigError, UserError, check_choice
from fusion.io.footage import find_identities

#: How a template is drawn within its identity (`fusion.data.strata`).
TEMPLATE_SAMPLING = ("uniform", "stratified")


class FaceDataModule(L.LightningDataModule):
    """Footage -> face cache -> the current phase's stage packs, served as triplets.

    Refuses up front what cannot train (fewer than two identities, a cache overlapping the footage);
    the training loop sets `phase` before each fit, so every phase trains on its own pack.
    """

    def __init__(self, crop: CropSettings, cache_dir: str, cache_folder: str | None = None,
                 footage: str | None = None, identities: list[str] | None = None, p_self: float = 0.5, holdout: float = 0.1,
                 val_quantity: int = 16, num_workers: int = 0, seed: int = 0, demo_footage: str | None = None,
                 colorspace: str | None = None, ocio_config: str | None = None,
                 template_sampling: str = "uniform"):
        super().__init__()
        if footage is None and demo_footage is None:
            raise ConfigError("give footage=PATH (footage/<identity>/...) or demo_footage=PATH for the built-in demo")
        #: the crop settings, landmark backend resolved: what the cache holds and checkpoints record
        self.crop = crop.resolved()
        self.cache = Path(cache_folder) if cache_folder is not None else cache_location(cache_dir, self.crop)
        self.footage = Path(footage) if footage is not None else None
        #: how the cache is prepared when frames are missing: the footage's colorspace (checked here, before training)
        self.prepare_options = PrepareOptions(colorspace=colorspace, ocio_config=ocio_config)
        self.demo_footage = Path(demo_footage) if demo_footage is not None else None
        if not 0 <= holdout < 1:
            raise ConfigError(f"data.holdout={holdout}: the held-out share of each source must be in [0, 1) (e.g. 0.1)")
        self.p_self, self.holdout, self.val_quantity = p_self, holdout, val_quantity
        #: how a template is drawn within its identity: uniform, or stratified over pose and expression
        check_choice("data.template_sampling", template_sampling, TEMPLATE_SAMPLING)
        self.template_sampling = template_sampling
        self.num_workers, self.seed = num_workers, seed
        self.identities = list(identities) if identities else find_identities(self.footage_root())
        if len(self.identities) < 2:
            raise ConfigError(f"training needs at least two identities (a swap puts one actor's face on another's), "
                              f"got {self.identities} from {self.footage or 'data.identities'}: add a folder per actor "
                              "under footage/, or list two or more in data.identities")
        if self.footage is not None:
            check_cache_apart(self.footage, self.cache)
        self.phase = None
        self.train_pack: StagePack | None = None
        self.val_pack: StagePack | None = None
        self._cache_ready = False
        # One process of the whole job prepares the cache and builds the packs: the run's folders are shared
        # between nodes (rank zero writes the checkpoints every rank resumes from), and so is the cache, where
        # two nodes preparing at once would remove each other's files in progress.
        self.prepare_data_per_node = False
        #: called between the packs a phase builds, where a stop loses no work (the training loop sets it to
        #: the preemption watch's check: building packs at high resolution can outlast a preemption's notice)
        self.safe_point: Callable[[], None] | None = None

    def footage_root(self) -> Path:
        """The footage folder, or the built-in demo footage (written on first use) when none was given."""
        if self.footage is not None:
            return self.footage
        return make_demo_footage(self.demo_footage)

    def _specs(self) -> tuple[PackSpec, PackSpec]:
        if self.phase is None:
            raise RuntimeError("no curriculum phase set: set datamodule.phase before fit (fusion.training.run does)")
        train = PackSpec(self.phase.resolution, self.phase.quantity, self.seed, "train", self.holdout)
        # The held-out crops never depend on the seed: runs with different seeds are judged on the same frames.
        val = PackSpec(self.phase.resolution, self.val_quantity, 0, "val", self.holdout)
        return train, val

    def prepare_cache(self) -> None:
        """Prepare (or check) the face cache once per process."""
        if self._cache_ready:
            return
        report = prepare(self.footage_root(), self.cache, self.crop, self.prepare_options, self.identities)
        empty = [name for name, r in report["identities"].items() if not r["faces_kept"]]
        if empty:
            raise UserError(f"no usable faces for {empty} in {self.footage_root()}; see {self.cache / 'report.json'}")
        self._cache_ready = True

    def prepare_data(self) -> None:
        """Prepare the cache and build this phase's packs once for the job, before any process opens them."""
        self.prepare_cache()
        for spec in self._specs():
            self._safe_point()
            build_pack(self.cache, self.identities, spec)
        self._safe_point()

    def _safe_point(self) -> None:
        if self.safe_point is not None:
            self.safe_point()

    def setup(self, stage: str) -> None:
        """Open this phase's train and held-out packs (built by `prepare_data`) in every process."""
        train, val = self._specs()
        self.train_pack = build_pack(self.cache, self.identities, train)
        self.val_pack = build_pack(self.cache, self.identities, val)

    def train_dataloader(self) -> DataLoader:
        """Triplets of this rank's slice of each global batch, from the restored step on a resume,
        so the data depend on neither the number of processes nor an interruption.
        """
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer else (0, 1)
        weights = None if self.template_sampling == "uniform" else template_weights(self.train_pack.landmarks,
                                                                                     self.train_pack.identity)
        sampler = TripletSampler(self.train_pack.identity, self.phase.batch_size, self.seed + 1000 * self.phase.index,
                                 self.p_self, rank, world, weights)
        # The restored step of a resumed fit: batches continue where the killed run stopped.
        sampler.start_step = trainer.global_step if trainer else 0
        return DataLoader(TripletDataset(self.train_pack), batch_sampler=sampler, num_workers=self.num_workers)

    def val_dataloader(self) -> DataLoader:
        """Held-out crops as they are, each its own template, split over the ranks in a fixed order: every
        validation sees the same."""
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer else (0, 1)
        rows = list(range(rank, len(self.val_pack), world))
        batches = [[(i, i, -1) for i in rows[k:k + self.phase.batch_size]]
                   for k in range(0, len(rows), self.phase.batch_size)]
        return DataLoader(TripletDataset(self.val_pack), batch_sampler=batches, num_workers=self.num_workers)
