"""`evaluate`: how good a trained model is, on held-out frames of every identity.

Works in crop space on the held-out tail of each identity's footage (the same
split training validated on), in stages a reader follows top to bottom:
gather each identity's held-out crops a batch at a time
(`fusion.eval.heldout`); score them (`fusion.eval.scores`): reconstruction
(masked SSIM/PSNR of the raw decode), and for every swap p -> q (p's frame
decoded by q's decoder, composited into p's frame exactly as `swap.py`
composites into a plate, at the same options: `fusion.eval.crop_swap`)
identity (dlib descriptors against each identity's centroid of real held-out
frames), expression (landmark error against the template frame), temporal
stability (flicker ratio over held-out frames that follow one another in one
source: the held-out frames are the tails of several clips), sharpness and
color, and how the swap follows the performance of the frame it was swapped
into (head pose, mouth and eye openness from dlib's landmarks, against the
self-swap's as the floor); summarise (`fusion.eval.summary`); write
metrics.json, the contact sheet and a timeline per swap
(`fusion.eval.timeline`). Frames are read from the memory-mapped pack,
decoded, composited and analysed a batch at a time and then dropped: only
per-frame numbers and the contact sheet's frames are kept, so memory follows
the batch, not the held-out set. The batch changes no metric beyond the
network's own float rounding, which differs with the batch size.
"""

from pathlib import Path

import numpy as np
import torch

from fusion.data.cache import model_cache
from fusion.data.pack import PackSpec, build_pack
from fusion.eval.analyse import FaceAnalyser, as_uint8
from fusion.eval.crop_swap import CropSwapper
from fusion.eval.heldout import HeldOut
from fusion.eval.options import EvaluateOptions
from fusion.eval.scores import IdentityScores
from fusion.eval.summary import score_metrics, summarise
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

#: The folder in `out` of the swaps' timelines, `<p>_to_<q>.png`.
TIMELINES = "timelines"


def score_identities(held_out: HeldOut, swapper: CropSwapper, batch_size: int) -> list[IdentityScores]:
    """The score stage: every identity's held-out crops scored a batch at a time, identity after identity."""
    names, analyse = swapper.model.identities, FaceAnalyser()
    scores = []
    for i, name in enumerate(names):
        scores.append(IdentityScores(i, len(names)))
        for batch in held_out.batches(i, name, batch_size):
            scores[-1].add(batch, swapper, analyse)
    return scores


def held_out_matte_scores(model: SwapModel, cache: Path, holdout: float) -> dict:
    """How well the checkpoint's learned matte finds occluders on the held-out crops at its own resolution
    (`fusion.occlusion.scores`; the held-out pack matte.py built and scored, reused)."""
    pack = build_pack(cache, model.identities, PackSpec(model.matte.config.resolution, 10**6, 0, "val", holdout))
    return matte_scores(model.matte, pack)


def write_results(out: Path, metrics: dict, sheet: torch.Tensor, timelines: dict[str, np.ndarray]) -> None:
    """The write stage: metrics.json, contact_sheet.png and the timelines folder (which holds exactly
    `timelines`, each `<name>.png`) in `out`, moved into place together."""
    with StagedOutputs() as staged:
        write_json(staged.path(out / "metrics.json"), metrics)
        write_image(staged.path(out / "contact_sheet.png"), as_uint8(sheet[None])[0])
        staged.folder(out / TIMELINES, (".png",))
        for name, image in timelines.items():
            write_image(staged.path(out / TIMELINES / f"{name}.png"), image)


def evaluate(checkpoint: str | Path, cache: str | Path | None, out: str | Path, options: EvaluateOptions | None = None,
             *, cache_dir: str | Path | None = None) -> dict:
    """Write metrics.json, contact_sheet.png and timelines/ to `out`; return the metrics.

    `cache` is the prepared cache the model trained on; None finds it under
    `cache_dir` by the crop settings the checkpoint records. Existing results
    in `out` are replaced only with `options.overwrite`; the checkpoint and
    cache never are.
    """
    options, out = options or EvaluateOptions(), Path(out)
    results = [out / "metrics.json", out / "contact_sheet.png", out / TIMELINES]
    check_outputs(results, [Path(checkpoint)], options.overwrite, "out")
    model = load_swap_model(checkpoint, options.device, options.precision)
    matte = learned_matte(options.matte, model.matte, checkpoint)
    swapper = CropSwapper(model, color_step(options.color, model.color, checkpoint), matte, options.composite)
    if options.tuning:
        apply_tuned_encoder(model, options.tuning, checkpoint)
    cache = model_cache(cache, cache_dir, model.crop)
    check_outputs(results, [cache], options.overwrite, "out")
    held_out = HeldOut(cache, model.identities, model.net.output_resolution, options.holdout,
                       model.crop.mask_enlarge, options.plate)

    scores = score_identities(held_out, swapper, options.batch_size)
    templates = [held_out.landmarks(i) for i in range(len(model.identities))]
    metrics = {"checkpoint": str(checkpoint), "resolution": model.net.output_resolution,
               "composite": {**options.composite, "matte": options.matte, "color": options.color},
               "plate": options.plate, "identities": {}, "swaps": {}}
    if model.matte is not None:
        metrics["matte_scores"] = held_out_matte_scores(model, cache, options.holdout)
    metrics["identities"], metrics["swaps"] = score_metrics(model.identities, scores, templates)
    metrics["summary"] = summarise(metrics["identities"], metrics["swaps"])
    write_results(out, metrics, torch.cat([s.sheet.image() for s in scores], dim=2),
                  swap_timelines(model.identities, scores))
    return metrics
