"""Training a model's color-harmonisation LUT network; the `color.py` command's work.

The faces are the model's own swaps: each of up to `faces` training crops (an
equal share from each identity, the only ones packed) is decoded once by
another identity's decoder (as the swap would decode it), then brought down
to the network's resolution with its crop and hull mask.
Each step draws a batch and a random grade G per sample (`grades.py`; a
share `identity_share` left ungraded, so an ungraded plate keeps the face as
decoded). The network sees the ungraded face and the graded plate outside the
face, builds a LUT, and the face through that LUT must equal G(face) inside
the mask (MSE), with the LUT literature's smoothness and monotonicity priors
on the basis LUTs. The held-out crops score it (`scores.py`): CIEDE2000 to
G(face) with no harmonisation, with `stats` and with the LUT. The network is
written, with the checkpoint, into a new checkpoint (never over the old one)
that `swap.py color=lut` reads. Plain torch, as the matte's training.
"""

import time
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from fusion.color.grades import Grade
from fusion.color.options import ColorOptions
from fusion.command_line import command_line
from fusion.color.scores import delta_e
from fusion.blend.color_transfer import transfer_stats
from fusion.data.cache import CropSettings, model_cache
from fusion.data.pack import PackSpec, StagePack, build_pack
from fusion.data.triplets import to_float
from fusion.hardware import pick_device
from fusion.io.outputs import check_outputs
from fusion.model.checkpoint import COLOR_SECTION, load_network, read_checkpoint, save_with_section
from fusion.model.color_lut import ColorNet, apply_lut, lut_monotonicity, lut_smoothness
from fusion.model.decode import decode_faces
from fusion.progress import progress
from fusion.model.section_configs import ColorConfig


@dataclass
class ColorResult:
    """What a color training did: where the checkpoint went, the held-out color errors and the seconds."""

    path: Path
    scores: dict[str, float]
    faces: int
    seconds: float
    losses: list[float] = field(default_factory=list)

    def summary(self) -> list[str]:
        """The closing lines: what it trained on and for how long, the held-out color errors with no
        harmonisation, the statistics transfer and the LUT (under random grades, and ungraded), the checkpoint
        it wrote and the swap through it."""
        s = self.scores
        swap = command_line("swap.py", {"checkpoint": self.path, "color": "lut"})
        return [f"trained on {self.faces} swapped faces in {self.seconds / 60:.1f} min",
                f"held-out swaps ({s['crops']}) under random grades, CIEDE2000 to the graded face: none "
                f"{s['graded_none']:.2f}, stats {s['graded_stats']:.2f}, lut {s['graded_lut']:.2f}; ungraded: none "
                f"{s['ungraded_none']:.2f}, stats {s['ungraded_stats']:.2f}, lut {s['ungraded_lut']:.2f}",
                f"checkpoint with the LUT network: {self.path}",
                f"swap with it: {swap} identity=<whose face> input=<plate> output=<file>"]


@dataclass
class SwapSet:
    """Plate crops, the model's swapped faces and hull masks, all (N, C, R, R) float32 at the color resolution."""

    plates: torch.Tensor
    faces: torch.Tensor
    masks: torch.Tensor


def color_path(checkpoint: str | Path) -> Path:
    """Where a checkpoint with a color LUT network goes by default: beside the checkpoint.

    >>> color_path("run/checkpoints/last.matte.ckpt").as_posix()
    'run/checkpoints/last.matte.color.ckpt'
    """
    return Path(checkpoint).with_name(f"{Path(checkpoint).stem}.color.ckpt")


def color_packs(names: list[str], resolution: int, options: ColorOptions) -> tuple[PackSpec, PackSpec]:
    """The train and held-out packs the fit reads: `faces` crops shared out equally over the identities, at the
    model's `resolution`, so a pack holds what is decoded, not the whole cache. The held-out crops never
    depend on the seed, as in training.

    >>> specs = color_packs(["a", "b", "c"], 64, ColorOptions(faces=8, seed=5))
    >>> [(spec.quantity, spec.seed, spec.split) for spec in specs]
    [(3, 5, 'train'), (3, 0, 'val')]
    """
    quantity = -(-options.faces // len(names))
    return (PackSpec(resolution, quantity, options.seed, "train", options.holdout),
            PackSpec(resolution, quantity, 0, "val", options.holdout))


@torch.no_grad()
def swap_set(net, pack: StagePack, count: int, resolution: int, seed: int, device: torch.device) -> SwapSet:
    """Up to `count` crops of `pack` (at the model's output resolution) with each decoded by another
    identity's decoder, brought to `resolution`."""
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(pack), min(count, len(pack)), replace=False))
    identities = len(pack.identities)
    others = (pack.identity[rows] + rng.integers(1, max(identities, 2), len(rows))) % max(identities, 1)
    small = lambda x: F.interpolate(x, size=(resolution, resolution), mode="area")  # noqa: E731
    plates, faces, masks = [], [], []
    for start in range(0, len(rows), 16):
        batch = rows[start:start + 16]
        x = to_float(pack.images[batch])
        q = torch.from_numpy(others[start:start + 16]).to(device)
        faces.append(small(decode_faces(net, x.to(device), q).float().cpu()))
        plates.append(small(x))
        masks.append(small(torch.from_numpy(pack.masks[batch] / np.float32(255))[:, None]))
    return SwapSet(torch.cat(plates), torch.cat(faces).clamp(0, 1), torch.cat(masks))


def _loss(prediction: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return ((prediction - truth).square() * mask).sum() / (3 * mask.sum()).clamp_min(1)


def train_color(train: SwapSet, options: ColorOptions) -> tuple[ColorNet, list[float]]:
    """The LUT network trained on `train`, and its loss every 50 steps."""
    torch.manual_seed(options.seed)
    generator = torch.Generator().manual_seed(options.seed)
    device = pick_device(options.device)
    net = ColorNet(ColorConfig(options.size, options.basis, options.resolution, options.width)).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=options.lr)
    batch, losses = min(options.batch_size, len(train.plates)), []
    for step in progress(range(options.steps), desc="color", unit="step"):
        rows = torch.randperm(len(train.plates), generator=generator)[:batch]
        grade = Grade.random(batch, generator, options.identity_share)
        face, mask = train.faces[rows].to(device), train.masks[rows].to(device)
        plate = grade(train.plates[rows]).to(device)
        truth = grade(train.faces[rows]).to(device)
        prediction = apply_lut(face, net(face, plate, mask))
        loss = (_loss(prediction, truth, mask) + options.smoothness * lut_smoothness(net.basis)
                + options.monotonicity * lut_monotonicity(net.basis))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % 50 == 0:
            losses.append(round(loss.item(), 5))
    return net.eval(), losses


@torch.no_grad()
def color_scores(net: ColorNet, held_out: SwapSet, seed: int = 0) -> dict[str, float]:
    """Mean CIEDE2000 inside the mask between the harmonised face and the truth G(face), for held-out swaps under
    seeded random grades (`graded_*`) and ungraded (`ungraded_*`): no harmonisation, `stats` and the LUT."""
    device = next(net.parameters()).device
    scores: dict[str, float] = {"crops": len(held_out.plates)}
    for name, grade in (("graded", Grade.random(len(held_out.plates), torch.Generator().manual_seed(seed))),
                        ("ungraded", Grade.none(len(held_out.plates)))):
        plates, truth = grade(held_out.plates), grade(held_out.faces)
        faces, masks = held_out.faces, held_out.masks
        lut = torch.cat([apply_lut(faces[i:i + 64].to(device), net(faces[i:i + 64].to(device),
                                   plates[i:i + 64].to(device), masks[i:i + 64].to(device))).cpu()
                         for i in range(0, len(faces), 64)])
        scores[f"{name}_none"] = delta_e(faces, truth, masks)
        scores[f"{name}_stats"] = delta_e(transfer_stats(faces, plates, masks), truth, masks)
        scores[f"{name}_lut"] = delta_e(lut, truth, masks)
    return scores


def fit_color(checkpoint: str | Path, cache: str | Path | None, options: ColorOptions = ColorOptions(),
              out: str | Path | None = None, overwrite: bool = False, *, cache_dir: str | Path | None = None
              ) -> ColorResult:
    """Train `checkpoint`'s color LUT network on its swaps of the cache it was trained from (`cache`, or found
    under `cache_dir`), score it on the held-out crops, and write the checkpoint with it to `out` (default
    `color_path`)."""
    started = time.perf_counter()
    checkpoint = Path(checkpoint)
    out = Path(out) if out else color_path(checkpoint)
    saved = read_checkpoint(checkpoint)
    info = saved["fusion"]
    cache = model_cache(cache, cache_dir, CropSettings(**info["crop"]))
    check_outputs([out], [checkpoint, cache], overwrite, key="output")
    device = pick_device(options.device)
    net = load_network(saved).eval().to(device)
    names, size = list(info["identities"]), net.output_resolution
    sets = [swap_set(net, build_pack(cache, names, spec, workers=1), options.faces, options.resolution, options.seed,
                     device) for spec in color_packs(names, size, options)]
    color, losses = train_color(sets[0], options)
    scores = color_scores(color, sets[1], options.seed)
    save_with_section(saved, COLOR_SECTION, color, {
        "options": {f.name: getattr(options, f.name) for f in fields(ColorOptions)},
        "faces": len(sets[0].plates), "scores": scores}, out)
    return ColorResult(out, scores, len(sets[0].plates), time.perf_counter() - started, losses)
