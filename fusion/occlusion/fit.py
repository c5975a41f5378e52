"""Training a model's occlusion-aware face matte, semi-supervised; the `matte.py` command's work.

Labelled crops: `labelled` of the training crops, each drawn with synthetic
occluders pasted over it (`occluders.py`; inside the hull, the truth is "not
under an occluder"), plus any crop a user painted a matte for (`painted.py`). Unlabelled crops:
every training crop. Each step the student (`MatteNet`) learns the labelled
batch; with `semi_supervised`, it also matches the EMA teacher's confident
prediction on a weak view of an unlabelled batch from a strong view of it,
and the labelled prototypes' classification of the unlabelled features
(`losses.py`); both terms ramp in over the first quarter of the steps, while
the teacher is still poor. The teacher is kept: written, with the checkpoint,
to a new checkpoint (never over the old one) that `swap.py matte=learned`
reads. The loop is plain torch for the reason shot tuning's is: one small
network, one loss, a few thousand steps.
"""

import time
from dataclasses import dataclass, field, fields
from pathlib import Path

import kornia.augmentation as K
import numpy as np
import torch
from torch import nn

from fusion.command_line import command_line
from fusion.data.cache import CropSettings, model_cache
from fusion.data.pack import PackSpec, StagePack, build_pack
from fusion.data.triplets import to_float
from fusion.hardware import pick_device
from fusion.io.outputs import check_outputs
from fusion.model.checkpoint import MATTE_SECTION, read_checkpoint, save_with_section
from fusion.model.matte_net import MatteNet
from fusion.occlusion.losses import confident_targets, consistency_loss, prototype_loss, supervised_loss
from fusion.occlusion.options import MatteOptions
from fusion.occlusion.occluders import OccluderBank
from fusion.occlusion.painted import painted_mattes
from fusion.occlusion.scores import matte_scores
from fusion.occlusion.teacher import EmaTeacher
from fusion.progress import progress
from fusion.model.section_configs import MatteConfig

#: How many occluders a labelled draw gets, and how often.
OCCLUDER_COUNTS, OCCLUDER_ODDS = (0, 1, 2), (0.2, 0.5, 0.3)


@dataclass
class MatteResult:
    """What a matte training did: where the checkpoint went, the held-out scores, the data and the seconds."""

    path: Path
    scores: dict[str, float]
    labelled: int
    unlabelled: int
    painted: int
    seconds: float
    losses: list[float] = field(default_factory=list)

    def summary(self) -> list[str]:
        """The closing lines: what it trained on and for how long, its held-out IoU against the hull's, the
        checkpoint it wrote and the swap through it."""
        scores = self.scores
        swap = command_line("swap.py", {"checkpoint": self.path, "matte": "learned"})
        return [f"trained on {self.labelled} labelled crops (+{self.painted} painted) and {self.unlabelled} "
                f"unlabelled in {self.seconds / 60:.1f} min",
                f"held-out crops ({scores['crops']}) with occluders: IoU {scores['occluded_learned']:.3f} "
                f"(the hull alone {scores['occluded_hull']:.3f}); without: {scores['clean_learned_vs_hull']:.3f} "
                "of the hull",
                f"checkpoint with the matte: {self.path}",
                f"swap with it: {swap} identity=<whose face> input=<plate> output=<file>"]


def matte_checkpoint_path(checkpoint: str | Path) -> Path:
    """Where a checkpoint with a learned matte goes by default: beside the checkpoint.

    >>> matte_checkpoint_path("run/checkpoints/last.ckpt").as_posix()
    'run/checkpoints/last.matte.ckpt'
    """
    return Path(checkpoint).with_name(f"{Path(checkpoint).stem}.matte.ckpt")


def strong_view() -> nn.Module:
    """Photometric changes only (color, grey, blur, noise), so a strong view stays registered to its weak view."""
    return nn.Sequential(K.ColorJiggle(0.4, 0.4, 0.4, 0.05, p=0.8), K.RandomGrayscale(p=0.1),
                         K.RandomGaussianBlur((5, 5), (0.1, 1.5), p=0.3), K.RandomGaussianNoise(std=0.03, p=0.3))


class LabelledDraws:
    """Batches of labelled crops: synthetic occluders over the chosen crops, truth = hull x painted x not occluded."""

    def __init__(self, pack: StagePack, rows: np.ndarray, painted: dict[int, np.ndarray]):
        self.pack, self.rows, self.painted = pack, rows, painted
        self.bank = OccluderBank("train")

    def __call__(self, count: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(images (B, 3, R, R), truth (B, 1, R, R), hull region (B, 1, R, R) 0 or 1)."""
        size = self.pack.spec.resolution
        images, truths, regions = [], [], []
        for row in rng.choice(self.rows, count):
            crop = to_float(self.pack.images[row]).permute(1, 2, 0).numpy()
            other = to_float(self.pack.images[rng.integers(len(self.pack))]).permute(1, 2, 0).numpy()
            skin = other[size // 2:size * 7 // 10, size * 3 // 10:size * 7 // 10]  # another face's cheeks
            occluders = rng.choice(OCCLUDER_COUNTS, p=OCCLUDER_ODDS)
            image, alpha = self.bank.paste(crop, rng, occluders, skin)
            region = (self.pack.masks[row] > 0).astype(np.float32)
            truth = self.painted.get(int(row), 1.0) * (1 - alpha)
            if rng.random() < 0.5:
                image, truth, region = image[:, ::-1], truth[:, ::-1], region[:, ::-1]
            images.append(np.ascontiguousarray(image))
            truths.append(np.ascontiguousarray(truth, np.float32))
            regions.append(np.ascontiguousarray(region))
        as_batch = lambda arrays: torch.from_numpy(np.stack(arrays))[:, None]  # noqa: E731
        return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2), as_batch(truths), as_batch(regions)


def unlabelled_draw(pack: StagePack, count: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A weak view of `count` training crops (each flipped or not) and their hull regions (B, 1, R, R)."""
    rows = np.sort(rng.choice(len(pack), count, replace=False))
    crops, region = to_float(pack.images[rows]), torch.from_numpy(pack.masks[rows] > 0).float()[:, None]
    flip = torch.from_numpy(rng.random(count) < 0.5)[:, None, None, None]
    return torch.where(flip, crops.flip(-1), crops), torch.where(flip, region.flip(-1), region)


def train_matte(train: StagePack, painted: dict[int, np.ndarray], options: MatteOptions) -> tuple[MatteNet, list]:
    """The EMA teacher of a student trained on `train` (train-split crops at the matte's resolution), and the
    loss every 50 steps."""
    torch.manual_seed(options.seed)
    rng = np.random.default_rng(options.seed)
    device = pick_device(options.device)
    student = MatteNet(MatteConfig(options.resolution, options.width, options.depth)).to(device)
    teacher = EmaTeacher(student, options.ema_decay)
    chosen = rng.choice(len(train), min(options.labelled, len(train)), replace=False)
    labelled = LabelledDraws(train, np.union1d(chosen, list(painted)).astype(np.int64), painted)
    strong = strong_view().to(device)
    optimizer = torch.optim.Adam(student.parameters(), lr=options.lr)
    batch = min(options.batch_size, len(train))
    losses = []
    for step in progress(range(options.steps), desc="matte", unit="step"):
        images, truth, region = (t.to(device) for t in labelled(batch, rng))
        logits, features = student(strong(images))
        loss = supervised_loss(logits, truth, region)
        if options.semi_supervised:
            weak, weak_region = (t.to(device) for t in unlabelled_draw(train, batch, rng))
            with torch.no_grad():
                labels, sure = confident_targets(torch.sigmoid(teacher(weak)[0]), options.threshold)
            student_logits, student_features = student(strong(weak))
            ramp = min(1.0, (step + 1) / max(options.steps // 4, 1))
            consistency = consistency_loss(student_logits, labels, sure, weak_region)
            prototype = prototype_loss(features, truth, region, student_features, labels, sure, weak_region,
                                       options.temperature)
            loss = loss + ramp * (options.consistency * consistency + options.prototype * prototype)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        teacher.update(student)
        if step % 50 == 0:
            losses.append(round(loss.item(), 4))
    return teacher.module.eval(), losses


def fit_matte(checkpoint: str | Path, cache: str | Path | None, options: MatteOptions = MatteOptions(),
              out: str | Path | None = None, overwrite: bool = False, *, cache_dir: str | Path | None = None
              ) -> MatteResult:
    """Train `checkpoint`'s face matte on the cache it was trained from (`cache`, or found under `cache_dir` by
    its crop settings), score it on the held-out crops, and write the checkpoint with it to `out` (default
    `matte_checkpoint_path`)."""
    started = time.perf_counter()
    checkpoint = Path(checkpoint)
    out = Path(out) if out else matte_checkpoint_path(checkpoint)
    saved = read_checkpoint(checkpoint)
    info = saved["fusion"]
    cache = model_cache(cache, cache_dir, CropSettings(**info["crop"]))
    check_outputs([out], [checkpoint, cache], overwrite, key="output")
    names = list(info["identities"])
    spec = dict(resolution=options.resolution, quantity=10**6, holdout=options.holdout)
    train, held_out = (build_pack(cache, names, PackSpec(**spec, split=split), workers=1) for split in ("train", "val"))
    painted = painted_mattes(options.painted, cache, train.keys, options.resolution) if options.painted else {}
    net, losses = train_matte(train, painted, options)
    scores = matte_scores(net, held_out, options.seed)
    save_with_section(saved, MATTE_SECTION, net, {
        "options": {f.name: getattr(options, f.name) for f in fields(MatteOptions)},
        "labelled": min(options.labelled, len(train)), "unlabelled": len(train), "painted": len(painted),
        "scores": scores}, out)
    return MatteResult(out, scores, min(options.labelled, len(train)), len(train), len(painted),
                       time.perf_counter() - started, losses)
