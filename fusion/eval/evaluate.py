"""`evaluate`: how good a trained model is, on held-out frames of every identity, in crop space and at plate scale.

Works on the held-out tail of each identity's footage (the same split
training validated on), in stages a reader follows top to bottom: gather each
identity's held-out frames a batch at a time, as crops from the cache
(`fusion.eval.heldout`) and, with `plate_scale`, as plates read from the
footage and found and aligned by the swap's own stages
(`fusion.eval.plate_heldout`); score them (`fusion.eval.scores`):
reconstruction (masked SSIM/PSNR of the raw decode), and for every swap
p -> q (p's frame decoded by q's decoder and composited into p's frame
exactly as `swap.py` composites into a plate, at the same options: into the
crop, `fusion.eval.crop_swap`, or into the plate at its resolution,
`fusion.eval.plate_swap`) identity (dlib descriptors against each identity's
centroid of real held-out frames), expression (landmark error against the
template frame), temporal stability (flicker ratio over held-out frames that
follow one another in one source), sharpness (in the plate's face box at
plate scale) and color, and how the swap follows the performance of the
frame it was swapped into (head pose, mouth and eye openness from dlib's
landmarks), each against the self-swap's as the floor; summarise
(`fusion.eval.summary`); write metrics.json (the plate-scale scores under
`plate_scale`), a contact sheet and a timeline per swap for each
(`fusion.eval.timeline`). Frames are decoded, composited and analysed a
batch at a time and then dropped: memory follows the batch, not the held-out
set. The batch changes no metric beyond the network's own float rounding.
"""

import logging
from pathlib import Path

import numpy as np
import torch

from fusion.data.cache import model_cache
from fusion.data.pack import PackSpec, build_pack
from fusion.eval.analyse import FaceAnalyser, as_uint8
from fusion.eval.crop_swap import CropSwapper
from fusion.eval.heldout import HeldOut
from fusion.eval.options import EvaluateOptions
from fusion.eval.plate_heldout import PlateHeldOut, footage_root, missing_footage, named_footage
from fusion.eval.plate_swap import PlateSwapper
from fusion.eval.scores import IdentityScores
from fusion.eval.summary import score_metrics, summarise
from fusion.eval.swapper import Swapper
from fusion.eval.timeline import swap_timelines
from fusion.io.atomic import StagedOutputs, write_json
from fusion.io.image import write_image
from fusion.io.outputs import check_outputs
from fusion.occlusion.scores import matte_scores
from fusion.swap.color import color_step
from fusion.swap.loader import SwapModel, load_swap_model
from fusion.swap.matte import learned_matte
from fusion.swap.tuned_encoder import apply_tuned_encoder

__all__ = ["EvaluateOptions", "evaluate"]

log = logging.getLogger(__name__)

#: The folder in `out` of the swaps' timelines, `<p>_to_<q>.png` (crop space) and `<p>_to_<q>_plate.png`.
TIMELINES = "timelines"
#: The contact sheets in `out`: crop space, plate scale.
SHEETS = ("contact_sheet.png", "contact_sheet_plate.png")
#: Pixels of each face on the plate-scale contact sheet.
PLATE_SHEET_TILE = 256


def score_identities(held_out: HeldOut | PlateHeldOut, swapper: Swapper, batch_size: int,
                     analyse: FaceAnalyser, sheet_tile: int | None = None) -> list[IdentityScores]:
    """The score stage: every identity's held-out frames scored a batch at a time, identity after identity."""
    names = swapper.model.identities
    scores = []
    for i, name in enumerate(names):
        scores.append(IdentityScores(i, len(names), sheet_tile))
        for batch in held_out.batches(i, name, batch_size):
            scores[-1].add(batch, swapper, analyse)
    return scores


def scored(names: list[str], scores: list[IdentityScores]) -> dict:
    """The identities, swaps and summary sections of metrics.json from the scores of one way of swapping."""
    identities, swaps = score_metrics(names, scores)
    return {"identities": identities, "swaps": swaps, "summary": summarise(identities, swaps)}


def held_out_matte_scores(model: SwapModel, cache: Path, holdout: float) -> dict:
    """How well the checkpoint's learned matte finds occluders on the held-out crops at its own resolution
    (`fusion.occlusion.scores`; the held-out pack matte.py built and scored, reused)."""
    pack = build_pack(cache, model.identities, PackSpec(model.matte.config.resolution, 10**6, 0, "val", holdout))
    return matte_scores(model.matte, pack)


def write_results(out: Path, metrics: dict, sheets: dict[str, torch.Tensor], timelines: dict[str, np.ndarray]) -> None:
    """The write stage: metrics.json, the contact `sheets` (file name: image) and the timelines folder (which
    holds exactly `timelines`, each `<name>.png`) in `out`, moved into place together; a sheet not given is
    not left behind from an earlier run."""
    with StagedOutputs() as staged:
        write_json(staged.path(out / "metrics.json"), metrics)
        for name, image in sheets.items():
            write_image(staged.path(out / name), as_uint8(image[None])[0])
        staged.folder(out / TIMELINES, (".png",))
        for name, image in timelines.items():
            write_image(staged.path(out / TIMELINES / f"{name}.png"), image)
    for name in set(SHEETS) - set(sheets):
        (out / name).unlink(missing_ok=True)


def sheet(scores: list[IdentityScores]) -> torch.Tensor:
    """The contact sheet: each identity's block beside the next."""
    return torch.cat([s.sheet.image() for s in scores], dim=2)


def evaluate(checkpoint: str | Path, cache: str | Path | None, out: str | Path, options: EvaluateOptions | None = None,
             *, cache_dir: str | Path | None = None) -> dict:
    """Write metrics.json, the contact sheets and timelines/ to `out`; return the metrics.

    `cache` is the prepared cache the model trained on; None finds it under
    `cache_dir` by the crop settings the checkpoint records. With
    `options.plate_scale` the held-out frames are also read from the footage
    it was prepared from and swapped as plates (where that footage is not at
    hand, metrics.json's `plate_scale_skipped` says why and what to give).
    Existing results in `out` are replaced only with `options.overwrite`; the
    checkpoint, cache and footage never are.
    """
    options, out = options or EvaluateOptions(), Path(out)
    results = [out / "metrics.json", *(out / name for name in SHEETS), out / TIMELINES]
    check_outputs(results, [Path(checkpoint)], options.overwrite, "out")
    model = load_swap_model(checkpoint, options.device, options.precision)
    matte = learned_matte(options.matte, model.matte, checkpoint)
    color = color_step(options.color, model.color, checkpoint)
    if options.tuning:
        apply_tuned_encoder(model, options.tuning, checkpoint)
    cache = model_cache(cache, cache_dir, model.crop)
    check_outputs(results, [cache], options.overwrite, "out")
    footage = footage_root(cache, options.footage) if options.plate_scale else None
    skipped = missing_footage(cache, named_footage(cache)) if options.plate_scale and footage is None else None
    if skipped:
        log.warning("not scored at plate scale: %s", skipped)
    if footage is not None:
        check_outputs(results, [footage], options.overwrite, "out")
    resolution, names, analyse = model.net.output_resolution, model.identities, FaceAnalyser()
    held_out = HeldOut(cache, names, resolution, options.holdout, model.crop.mask_enlarge, options.plate)

    scores = score_identities(held_out, CropSwapper(model, color, matte, options.composite), options.batch_size,
                              analyse)
    metrics = {"checkpoint": str(checkpoint), "resolution": resolution,
               "composite": {**options.composite, "matte": options.matte, "color": options.color},
               "plate": options.plate, **scored(names, scores)}
    if skipped:
        metrics["plate_scale_skipped"] = skipped
    if model.matte is not None:
        metrics["matte_scores"] = held_out_matte_scores(model, cache, options.holdout)
    sheets, timelines = {SHEETS[0]: sheet(scores)}, swap_timelines(names, scores)
    if footage is not None:
        plates = PlateHeldOut(held_out, footage, model.crop, resolution, options.find)
        scores = score_identities(plates, PlateSwapper(model, color, matte, options.composite), options.batch_size,
                                  analyse, PLATE_SHEET_TILE)
        metrics["plate_scale"] = {"footage": str(footage), "frames_without_face": plates.without_face,
                                  **scored(names, scores)}
        sheets[SHEETS[1]] = sheet(scores)
        timelines |= {f"{name}_plate": image for name, image in swap_timelines(names, scores).items()}
    write_results(out, metrics, sheets, timelines)
    return metrics
