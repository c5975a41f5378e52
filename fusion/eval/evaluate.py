"""`evaluate`: how good a trained model is, on held-out frames of every identity.

Works in crop space on the held-out tail of each identity's footage (the same
split training validated on): reconstruction (masked SSIM/PSNR of the raw
decode), and for every swap p -> q (p's frame decoded by q's decoder,
composited into p's frame exactly as `swap.py` composites into a plate, at
the same options) identity (dlib descriptors against each identity's centroid of
real held-out frames), expression (landmark error against the template frame)
and temporal stability (flicker ratio over held-out frames that follow one
another in one source: the held-out frames are the tails of several clips).
Descriptors and landmarks are computed on crops enlarged to 512 px: dlib's
networks expect faces of ~150 px. Frames are read from the memory-mapped pack,
decoded, composited and analysed a batch at a time and then dropped: only
per-frame numbers and the contact sheet's frames are kept, so memory follows
the batch, not the held-out set. The batch changes no metric beyond the
network's own float rounding, which differs with the batch size.
"""

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from fusion.colour.scores import mean_color_error
from fusion.data.cache import IdentityCache, model_cache
from fusion.data.pack import PackSpec, StagePack, build_pack
from fusion.data.triplets import to_float
from fusion.errors import ConfigError
from fusion.eval.degrade import check_degradation, degrade
from fusion.eval.identity import FaceDescriber, retrieval_accuracy
from fusion.faces.hull import hull_polygon
from fusion.faces.landmarks import jittered_landmarks, load_backend
from fusion.io.atomic import StagedOutputs, write_json
from fusion.io.image import decode, to_unit, write_image
from fusion.io.outputs import check_outputs
from fusion.metrics.expression import REGIONS, landmark_error, landmark_error_by_region
from fusion.metrics.reconstruction import masked_psnr, masked_ssim
from fusion.metrics.sharpness import sharpness_ratio
from fusion.metrics.temporal import Position, TemporalRatio
from fusion.progress import progress
from fusion.occlusion.scores import matte_scores
from fusion.swap.colour import check_color, colour_step
from fusion.swap.composite import check_blend, composite_face
from fusion.swap.matte import check_matte, learned_matte
from fusion.swap.loader import load_swap_model
from fusion.swap.tuned_encoder import apply_tuned_encoder

DESCRIBE_SIZE = 512
#: Frames of each identity on the contact sheet.
SHEET_FRAMES = 6


def _uint8(images: torch.Tensor) -> np.ndarray:
    return (images.clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8)


def _analyse(backend, describer, crop: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(descriptor, landmarks in crop pixels) of an 8-bit crop, or None when no face is found."""
    scale = DESCRIBE_SIZE / crop.shape[0]
    big = cv2.resize(crop, (DESCRIBE_SIZE, DESCRIBE_SIZE), interpolation=cv2.INTER_CUBIC)
    boxes = backend.detect(big)
    if not boxes:
        return None
    points = jittered_landmarks(backend, big, boxes[0], 4)
    return describer.describe(big, points), points / scale


def _positions(cache: Path, pack: StagePack) -> list[Position]:
    """(source, frame number) of each crop of `pack`, from its identity's index: which frames follow one another."""
    where = {f"{name}/{record['key']}": (record["source"], record["frame"])
             for name in pack.identities for record in IdentityCache(cache, name).index()}
    return [where[key] for key in pack.keys]


def _composite(faces: torch.Tensor, templates: torch.Tensor, polygons: list[np.ndarray], options: dict,
               visible: torch.Tensor | None = None) -> torch.Tensor:
    """`composite_face` of each decoded face into its template crop (crop space: the identity warp).

    The crops are network-encoded values, so they go in as 16-bit pixels (display-referred, as stored):
    a float plate would be read as scene-linear and the face would come back through the sRGB curve.
    """
    identity = np.eye(2, 3)
    as_hwc = lambda images: images.permute(0, 2, 3, 1).contiguous().numpy()
    plates = decode(as_hwc(templates), np.uint16)
    cuts = visible[:, 0].numpy() if visible is not None else [None] * len(plates)
    frames = [composite_face(plate, face, identity, polygon, **options, visible=cut)[0]
              for face, plate, polygon, cut in zip(as_hwc(faces), plates, polygons, cuts)]
    return torch.from_numpy(to_unit(np.stack(frames))).permute(0, 3, 1, 2)


@dataclass
class EvaluateOptions:
    """How `evaluate` runs: the held-out share, where and how fast the network runs, and the swap's
    compositing (`blend`, `erode`, `feather` as `swap.py` takes them, in pixels of the model's output)."""

    holdout: float = 0.1
    device: str = "auto"
    precision: str = "fp32"
    batch_size: int = 16
    blend: str = "multiband"
    #: hull | learned: composite through the checkpoint's learned matte (matte.py)
    matte: str = "hull"
    #: none | match: the face gets the template's blur, noise and compression, as swap.py quality=match
    quality: str = "none"
    #: none | stats | lut: the face harmonised with the template's colours, as swap.py color=
    color: str = "none"
    #: the held-out crops degraded on purpose first (`fusion.eval.degrade`): none | warm, blur px, JPEG quality
    plate_grade: str = "none"
    plate_blur: float = 0.0
    plate_jpeg: int = 0
    erode: float | None = None
    feather: float | None = None
    overwrite: bool = False
    #: a shot-tuned encoder (tune.py) to decode through: score a shot before and after tuning
    tuning: str | None = None

    def __post_init__(self):
        check_blend(self.blend, self.quality)
        check_matte(self.matte)
        check_color(self.color)
        check_degradation(self.plate_grade, self.plate_blur, self.plate_jpeg)
        if self.batch_size < 1:
            raise ConfigError(f"batch_size={self.batch_size}: evaluate at least 1 frame at a time")
        if not 0 < self.holdout < 1:
            raise ConfigError(f"holdout={self.holdout}: the held-out share of each source must be in (0, 1), "
                              "as the model was trained with (data.holdout)")


def evaluate(checkpoint: str | Path, cache: str | Path | None, out: str | Path, options: EvaluateOptions | None = None,
             *, cache_dir: str | Path | None = None) -> dict:
    """Write metrics.json and contact_sheet.png to `out`; return the metrics.

    `cache` is the prepared cache the model trained on; None finds it under
    `cache_dir` by the crop settings the checkpoint records. Existing results
    in `out` are replaced only with `options.overwrite`; the checkpoint and
    cache never are.
    """
    options = options or EvaluateOptions()
    out = Path(out)
    results = [out / "metrics.json", out / "contact_sheet.png"]
    check_outputs(results, [Path(checkpoint)], options.overwrite, "out")
    model = load_swap_model(checkpoint, options.device, options.precision)
    matte = learned_matte(options.matte, model.matte, checkpoint)
    colour = colour_step(options.color, model.color, checkpoint)
    if options.tuning:
        apply_tuned_encoder(model, options.tuning, checkpoint)
    cache = model_cache(cache, cache_dir, model.crop)
    check_outputs(results, [cache], options.overwrite, "out")
    composite = {"blend": options.blend, "erode": options.erode, "feather": options.feather,
                 "quality": options.quality}
    size, names = model.net.output_resolution, model.identities
    # Every held-out frame, each scored (the pack holds nothing unread); the matte's pack below is the
    # held-out pack matte.py built and scored, reused.
    pack = build_pack(cache, names, PackSpec(size, 10**6, 0, "val", options.holdout))
    backend, describer = load_backend("dlib"), FaceDescriber()
    rows = {p: np.flatnonzero(pack.identity == i) for i, p in enumerate(names)}
    positions = _positions(cache, pack)
    # Per identity p: per-frame (ssim, psnr), analyses of the real frames and of
    # each swap p -> q (by q), the swaps' flicker, and the sheet's columns.
    quality, real, swapped, flicker, sharpness, color_error, sheet_rows = {}, {}, {}, {}, {}, {}, []
    for i, p in enumerate(names):
        quality[p], real[p], swapped[p] = [], [], [[] for _ in names]
        flicker[p] = {j: TemporalRatio() for j in range(len(names)) if j != i}
        sharpness[p] = {j: [] for j in range(len(names)) if j != i}
        color_error[p] = {j: [] for j in range(len(names)) if j != i}
        sheet = [[] for _ in range(len(names) + 1)]  # template, then the swap by each identity
        for start in progress(range(0, len(rows[p]), options.batch_size), desc=f"{p}: held-out frames", unit="batch"):
            batch = rows[p][start:start + options.batch_size]
            x = degrade(to_float(pack.images[batch]), options.plate_grade, options.plate_blur, options.plate_jpeg)
            m = torch.from_numpy(pack.masks[batch] / np.float32(255))[:, None]
            polygons = [hull_polygon(points, model.crop.mask_enlarge) for points in pack.landmarks[batch]]
            face = model.decode(x, i)
            visible = matte.predict(x) if matte is not None else None
            quality[p].append(torch.stack([masked_ssim(face, x, m), masked_psnr(face, x, m)]))
            real[p] += [_analyse(backend, describer, c) for c in _uint8(x)]
            columns = [x]
            for j in range(len(names)):
                swap_face = face if j == i else model.decode(x, j)
                if colour is not None:
                    swap_face = colour(swap_face, x, m)
                composited = _composite(swap_face, x, polygons, composite, visible)
                swapped[p][j] += [_analyse(backend, describer, c) for c in _uint8(composited)]
                if j != i:
                    sharpness[p][j] += sharpness_ratio(composited, x, m).tolist()
                    color_error[p][j] += mean_color_error(composited, x, m).tolist()
                    flicker[p][j].add(composited.permute(0, 2, 3, 1).numpy(), x.permute(0, 2, 3, 1).numpy(),
                                      m[:, 0].numpy() > 0.5, [positions[row] for row in batch])
                columns.append(composited)
            for kept, images in zip(sheet, columns):
                kept += [image.clone() for image in images[:SHEET_FRAMES - len(kept)]]  # a view would keep the batch
        sheet_rows.append(torch.cat([torch.cat(images, dim=2) for images in sheet], dim=1))
    centroids = np.stack([np.mean([a[0] for a in real[p] if a], 0) for p in names])

    def landmark_errors(analyses: list, template_points: np.ndarray) -> float | None:
        errors = [landmark_error(a[1], points) for a, points in zip(analyses, template_points) if a]
        return float(np.mean(errors)) if errors else None

    def region_errors(analyses: list, template_points: np.ndarray) -> dict[str, float | None]:
        errors = [landmark_error_by_region(a[1], points) for a, points in zip(analyses, template_points) if a]
        return {f"landmark_error_{region}": float(np.mean([e[region] for e in errors])) if errors else None
                for region in REGIONS}

    metrics: dict = {"checkpoint": str(checkpoint), "resolution": size,
                     "composite": {**composite, "matte": options.matte, "color": options.color},
                     "plate": {"grade": options.plate_grade, "blur": options.plate_blur, "jpeg": options.plate_jpeg},
                     "identities": {}, "swaps": {}}
    if model.matte is not None:  # how well it finds occluders on the held-out crops (fusion.occlusion.scores)
        matte_pack = build_pack(cache, names, PackSpec(model.matte.config.resolution, 10**6, 0, "val", options.holdout))
        metrics["matte_scores"] = matte_scores(model.matte, matte_pack)
    for i, p in enumerate(names):
        frames, template_points = len(rows[p]), pack.landmarks[rows[p]]
        ssim, psnr = (values.mean().item() for values in torch.cat(quality[p], 1))
        metrics["identities"][p] = {"frames": frames, "ssim": ssim, "psnr": psnr,
                                    # The floors of a swap's landmark error: the measurement itself
                                    # (the real frames) and the model without an identity change.
                                    "landmark_error_real": landmark_errors(real[p], template_points),
                                    "landmark_error_self_swap": landmark_errors(swapped[p][i], template_points)}
        for j, q in enumerate(names):
            if j == i:
                continue
            analyses = swapped[p][j]
            found = [(a, k) for k, a in enumerate(analyses) if a]
            descriptors = np.stack([a[0] for a, _ in found]) if found else np.zeros((0, 128))
            metrics["swaps"][f"{p}->{q}"] = {
                "faces_found": f"{len(found)}/{frames}",
                "distance_to_source": float(np.linalg.norm(descriptors - centroids[j], axis=1).mean()) if found else None,
                "distance_to_template": float(np.linalg.norm(descriptors - centroids[i], axis=1).mean()) if found else None,
                # A swap with no face found counts as a miss, not as missing data.
                "retrieval_accuracy": retrieval_accuracy(descriptors, centroids, np.full(len(found), j)) * len(found) / frames
                if found else 0.0,
                "landmark_error": landmark_errors(analyses, template_points),
                **region_errors(analyses, template_points),
                "temporal_ratio": flicker[p][j].value() if flicker[p][j].pairs else None,
                # high-frequency energy of the composited face over the plate's: below 1, softer than the plate
                "sharpness_ratio": float(np.mean(sharpness[p][j])),
                # CIEDE2000 between the mean Lab colours of the composited face and the plate's face
                "color_error": float(np.mean(color_error[p][j])),
            }

    def mean(values: list) -> float | None:
        values = [v for v in values if v is not None]
        return float(np.mean(values)) if values else None

    for q in names:  # how well q's decoder carries q's identity onto the others' frames
        metrics["identities"][q]["retrieval_accuracy"] = mean([metrics["swaps"][f"{p}->{q}"]["retrieval_accuracy"]
                                                                for p in names if p != q])
    swaps = list(metrics["swaps"].values())
    metrics["summary"] = {key: mean([s[key] for s in swaps])
                          for key in ("retrieval_accuracy", "landmark_error", "temporal_ratio", "sharpness_ratio",
                                      "color_error",
                                      *(f"landmark_error_{region}" for region in REGIONS))}
    for key in ("ssim", "landmark_error_real", "landmark_error_self_swap"):
        metrics["summary"][key] = mean([v[key] for v in metrics["identities"].values()])
    sheet = torch.cat(sheet_rows, dim=2)
    with StagedOutputs() as staged:
        write_json(staged.path(out / "metrics.json"), metrics)
        write_image(staged.path(out / "contact_sheet.png"), _uint8(sheet[None])[0])
    return metrics
