"""Shot tuning: the encoder fine-tuned on one shot's own frames, every decoder frozen.

A shot brings lighting and a camera the training footage did not have. Its
plate actor is one of the trained identities, so the shot's aligned frames are
reconstruction targets through that actor's decoder: tuning the encoder (its
input layer and its levels, or only chosen levels) on them moves the latent
code to the shot, while every decoder, and so what each learned about its
identity, stays bit for bit as trained. The tuned weights go beside the
checkpoint, never over it, named after the shot (`tuning_path`), with the
checkpoint's SHA-256 so they are never applied to another model
(`fusion.swap.tuned_encoder`); `swap.py tuning=FILE` loads them over the network. The last `holdout` share of
the shot's frames is not trained on and scores the tuning (masked SSIM of the
actor's reconstruction before and after).

The loop is plain torch: a few hundred steps of one loss on one module, with
no epochs, validation loop or checkpoints for Lightning to manage.
"""

import json
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from fusion.command_line import command_line
from fusion.data.pack import PackSpec, build_pack
from fusion.data.prepare import prepare
from fusion.data.prepare_options import PrepareOptions
from fusion.data.triplets import to_float
from fusion.errors import ConfigError, OutputError
from fusion.io.digest import file_sha256
from fusion.io.atomic import write_json
from fusion.io.footage import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, source_from_path
from fusion.io.outputs import check_outputs
from fusion.metrics.reconstruction import masked_ssim
from fusion.model.decode import decode_faces
from fusion.progress import progress
from fusion.swap.loader import SwapModel, load_swap_model
from fusion.swap.tuned_encoder import save_tuned_encoder, tuning_path
from fusion.training.losses import FaceLoss
from fusion.tune.options import ShotTuningOptions


@dataclass
class ShotTuningResult:
    """What a tuning did: where it is, on how many frames, and the held-out SSIM before and after."""

    path: Path
    frames_tuned: int
    frames_held_out: int
    ssim_before: float
    ssim_after: float
    parameters: list[str] = field(default_factory=list)

    def summary(self, identity: str, checkpoint: str | Path, shot: str | Path) -> list[str]:
        """The closing lines: `identity`'s held-out SSIM on `shot` before and after, the tuned file, and the swap
        of `checkpoint` through it."""
        swap = command_line("swap.py", {"checkpoint": checkpoint, "input": shot, "tuning": self.path})
        return [f"{identity}'s held-out frames of the shot ({self.frames_held_out}; tuned on {self.frames_tuned}): "
                f"masked SSIM {self.ssim_before:.3f} -> {self.ssim_after:.3f}",
                f"tuned encoder: {self.path}",
                f"swap with it: {swap} identity=<whose face> output=<file>"]


def tuned_parameters(model: SwapModel, levels: list[int] | None) -> dict[str, torch.nn.Parameter]:
    """The encoder's parameters that tuning trains, by their names in the network's state dict."""
    net = model.net
    depth = len(net.encoder)
    chosen = range(depth) if levels is None else levels
    bad = [level for level in chosen if not 0 <= level < depth]
    if bad:
        raise ConfigError(f"levels={list(chosen)}: this encoder has levels 0 (the latent) to {depth - 1} (the input)")
    prefixes = [f"encoder.{level}." for level in chosen]
    if depth - 1 in chosen:  # the input level's own input layer goes with it
        prefixes.append(f"from_rgb.{net.input_level}.")
    return {name: p for name, p in net.named_parameters() if any(name.startswith(x) for x in prefixes)}


def _unlink_previous(folder: Path) -> None:
    """Remove the links a previous tuning left at `folder` (a kept work folder); anything else there is
    refused, never deleted."""
    if folder.is_symlink():
        folder.unlink()
    elif folder.is_dir():
        others = [entry for entry in folder.iterdir() if not entry.is_symlink()]
        if others:
            raise OutputError(f"{others[0]} is not a link tune.py made; give tune.py an empty work folder of its own")
        for entry in folder.iterdir():
            entry.unlink()
        folder.rmdir()


def _claim_work(work: Path, shot: Path, digest: str, colorspace: str | None) -> None:
    """Tie the work folder to the shot whose crops it holds (by content, `Source.content_sha256`) and the
    colorspace they were taken in: a folder made for another shot, for a re-delivered plate of the same name
    or in another colorspace, is refused, never reused."""
    record = work / "shot.json"
    if record.is_file():
        made = json.loads(record.read_text())
        if made.get("sha256") != digest:
            raise OutputError(f"work={work} holds the crops of shot {made.get('shot')}, and {shot} is another shot "
                              f"(its frames differ); give tune.py another work folder, or delete {work} to rebuild it")
        if made.get("colorspace") != colorspace:
            raise OutputError(f"work={work} holds the crops of {shot} taken as colorspace={made.get('colorspace')}, "
                              f"not {colorspace}; give tune.py another work folder, or delete {work} to rebuild it")
    elif (work / "cache").exists():
        raise OutputError(f"work={work} holds crops of a shot it does not name (an older tune.py made it); give "
                          f"tune.py another work folder, or delete {work} to rebuild it")
    else:
        write_json(record, {"shot": str(shot), "sha256": digest, "colorspace": colorspace})


def _shot_crops(shot: Path, identity: str, model: SwapModel, work: Path, options: ShotTuningOptions):
    """The shot's aligned crops at the model's output resolution, in its working space: (train pack, held-out
    pack)."""
    footage = work / "footage"
    _unlink_previous(footage / identity)
    footage.mkdir(parents=True, exist_ok=True)
    if shot.is_dir():
        (footage / identity).symlink_to(shot.resolve(), target_is_directory=True)
    elif shot.suffix.lower() in VIDEO_EXTENSIONS + IMAGE_EXTENSIONS:
        (footage / identity).mkdir()
        for path in source_from_path(shot).images or (shot,):  # a numbered sequence (shot.####.exr): its frames
            (footage / identity / path.name).symlink_to(path.resolve())
    else:
        raise ConfigError(f"shot={shot}: give a video ({', '.join(VIDEO_EXTENSIONS)}), an image, a numbered sequence "
                          "or a folder of images")
    how = PrepareOptions(workers=options.workers or 1, contact_sheet=0, colorspace=options.colorspace,
                         ocio_config=options.ocio_config)
    prepare(footage, work / "cache", model.crop, how, [identity])
    size = model.net.output_resolution
    packs = [build_pack(work / "cache", [identity], PackSpec(size, 10**6, split=split, holdout=options.holdout),
                        workers=1)
             for split in ("train", "val")]
    if len(packs[0]) < 1 or len(packs[1]) < 1:
        raise ConfigError(f"shot={shot}: {len(packs[0]) + len(packs[1])} frames with a face; tuning needs at least "
                          "two (one to tune on, one to score); use a longer shot or a smaller holdout")
    return packs


def _held_out_ssim(model: SwapModel, pack, index: int, batch_size: int) -> float:
    scores = []
    for start in range(0, len(pack), batch_size):
        rows = np.arange(start, min(start + batch_size, len(pack)))
        x = to_float(pack.images[rows])
        mask = torch.from_numpy(pack.masks[rows] / np.float32(255))[:, None]
        scores.append(masked_ssim(model.decode(x, index), x, mask))
    return float(torch.cat(scores).mean())


def tune_shot(checkpoint: str | Path, shot: str | Path, identity: str, options: ShotTuningOptions = ShotTuningOptions(),
              out: str | Path | None = None, overwrite: bool = False, work: str | Path | None = None
              ) -> ShotTuningResult:
    """Tune `checkpoint`'s encoder on `shot`, whose plate actor is the trained identity `identity`; write the tuned
    weights to `out` (default `tuning_path`) and return what it did. `work` keeps the shot's crops (by
    default a temporary folder beside `out`, not in /tmp, which is small on many render nodes)."""
    checkpoint, shot = Path(checkpoint), Path(shot)
    out = Path(out) if out else tuning_path(checkpoint, shot)
    check_outputs([out], [checkpoint, shot], overwrite, key="output")
    digest = source_from_path(shot).content_sha256()
    model = load_swap_model(checkpoint, options.device, options.precision)
    index = model.identity_index(identity)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.work-", dir=out.parent) as scratch:
        work = Path(work or scratch)
        _claim_work(work, shot, digest, options.colorspace)
        train, held_out = _shot_crops(shot, identity, model, work, options)
        before = _held_out_ssim(model, held_out, index, options.batch_size)
        parameters = tuned_parameters(model, options.levels)
        _train(model, parameters, train, index, options)
        after = _held_out_ssim(model, held_out, index, options.batch_size)
        frames = (len(train), len(held_out))
    section = {"checkpoint": checkpoint.name, "checkpoint_sha256": file_sha256(checkpoint), "identity": identity,
               "shot": str(shot), "shot_sha256": digest, "options": {f.name: getattr(options, f.name) for f in fields(ShotTuningOptions)},
               "frames_tuned": frames[0], "frames_held_out": frames[1], "ssim_before": before, "ssim_after": after}
    state = {name: p.detach().cpu().clone() for name, p in parameters.items()}
    save_tuned_encoder(out, section, state)
    return ShotTuningResult(out, frames[0], frames[1], before, after, sorted(state))


def _train(model: SwapModel, parameters: dict[str, torch.nn.Parameter], pack, index: int,
           options: ShotTuningOptions) -> None:
    """Adam on `parameters` only (everything else frozen) for `options.steps` batches drawn from `pack`."""
    net = model.net
    device = next(net.parameters()).device
    for p in net.parameters():
        p.requires_grad_(False)
    for p in parameters.values():
        p.requires_grad_(True)
    optimizer = torch.optim.Adam(parameters.values(), lr=options.lr)
    loss = FaceLoss()
    generator = np.random.default_rng(options.seed)
    identities = torch.full((min(options.batch_size, len(pack)),), index, dtype=torch.long, device=device)
    try:
        for _ in progress(range(options.steps), desc="shot tuning", unit="step"):
            rows = np.sort(generator.choice(len(pack), len(identities), replace=False))
            x = to_float(pack.images[rows]).to(device)
            mask = torch.from_numpy(pack.masks[rows] / np.float32(255))[:, None].to(device)
            with torch.autocast(device.type, torch.bfloat16, enabled=model.precision == "bf16"):
                face = decode_faces(net, x, identities)
            value = loss(face.float(), x, mask)["loss"]
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            optimizer.step()
    finally:
        for p in net.parameters():
            p.requires_grad_(False)
