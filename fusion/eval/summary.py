"""From the scores `evaluate` kept to metrics.json's numbers: per identity, per swap p -> q, and the summary.

Identity is measured against each identity's centroid of dlib descriptors of
its real held-out frames; landmark errors against the template frames' landmarks
(the cache's in crop space, the swap's tracker's at plate scale). A swap with no
face found counts as a retrieval miss, not as missing data.

How a swap follows the performance (`fusion.metrics.performance`: head pose,
mouth opening, eye openness) is read from dlib's landmarks of the swap and of
the real held-out frame it was swapped into (the plate), frame by frame; the
self-swap against the same frames is its floor, and the real frames against
their template landmarks (`_real`) the measurement's own. Frames where either
has no face are left out. The mouth's correlation pools the frames of all of p's
held-out sources: a correlation pairs each swap frame with its own plate
frame, so it does not depend on their order, and the timeline plots
(`fusion.eval.timeline`) show the sources one after another.
"""

import numpy as np

from fusion.eval.analyse import Analysis
from fusion.eval.identity import retrieval_accuracy
from fusion.eval.scores import IdentityScores, PairScores
from fusion.metrics.expression import REGIONS, landmark_error, landmark_error_by_region
from fusion.metrics.performance import Performance, follow_scores, measure_performance

#: How a swap follows its plate's performance (`follow_scores`' keys).
FOLLOW_SCORES = ("pose_error", "mouth_error", "eye_error", "mouth_correlation")
#: The summary's means over the swaps.
SWAP_SUMMARY = ("retrieval_accuracy", "identity_margin", "landmark_error", "temporal_ratio", "sharpness_ratio",
                "color_error", *(f"landmark_error_{region}" for region in REGIONS), *FOLLOW_SCORES)
#: The summary's means over the identities.
IDENTITY_SUMMARY = ("ssim", "landmark_error_real", "landmark_error_self_swap",
                    *(f"{key}_{floor}" for floor in ("real", "self_swap") for key in FOLLOW_SCORES),
                    "sharpness_ratio_self_swap", "sharpness_ratio_ceiling", "temporal_ratio_self_swap")


def mean(values: list) -> float | None:
    """The mean of the values that are not None; None if none is.

    >>> mean([1.0, None, 2.0]), mean([None])
    (1.5, None)
    """
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def landmark_errors(analyses: list[Analysis | None], template_points: np.ndarray) -> float | None:
    """The mean landmark error of the faces found against their templates' landmarks (None: none found)."""
    errors = [landmark_error(a.landmarks, points) for a, points in zip(analyses, template_points) if a]
    return float(np.mean(errors)) if errors else None


def region_errors(analyses: list[Analysis | None], template_points: np.ndarray) -> dict[str, float | None]:
    """`landmark_errors` within each of the face's `REGIONS`, keyed `landmark_error_<region>`."""
    errors = [landmark_error_by_region(a.landmarks, points) for a, points in zip(analyses, template_points) if a]
    return {f"landmark_error_{region}": float(np.mean([e[region] for e in errors])) if errors else None
            for region in REGIONS}


def performance(analyses: list[Analysis | None]) -> Performance:
    """The performance of each analysed frame's landmarks (NaN where no face was found)."""
    landmarks = np.full((len(analyses), 68, 2), np.nan)
    for i, analysis in enumerate(analyses):
        if analysis:
            landmarks[i] = analysis.landmarks
    return measure_performance(landmarks)


def centroids(scores: list[IdentityScores]) -> np.ndarray:
    """(identities, 128): each identity's mean descriptor over the real held-out frames where a face was found."""
    return np.stack([np.mean([a.descriptor for a in s.real if a], 0) for s in scores])


def identity_metrics(scores: IdentityScores, template_points: np.ndarray, plate: Performance) -> dict:
    """An identity's frames, reconstruction and the floors of a swap's landmark error and of how it follows the
    real frames' `plate` performance: the measurement itself (the real frames against their template
    landmarks) and the model without an identity change (the self-swap against the real frames), whose
    sharpness and flicker are the floors of a swap's too; and the sharpness the model's resolution allows."""
    ssim, psnr = scores.ssim_psnr()
    measured = follow_scores(plate, measure_performance(template_points))
    follows = follow_scores(performance(scores.self_swap), plate)
    own = scores.self_pair
    return {"frames": len(template_points), "ssim": ssim, "psnr": psnr,
            "landmark_error_real": landmark_errors(scores.real, template_points),
            "landmark_error_self_swap": landmark_errors(scores.self_swap, template_points),
            **{f"{key}_real": value for key, value in measured.items()},
            **{f"{key}_self_swap": value for key, value in follows.items()},
            "sharpness_ratio_self_swap": mean(own.sharpness),
            "sharpness_ratio_ceiling": mean(scores.ceiling),
            "temporal_ratio_self_swap": own.flicker.value() if own.flicker.pairs else None}


def mean_distance(descriptors: np.ndarray, centre: np.ndarray) -> float | None:
    """The mean distance of (N, 128) descriptors to a centroid; None for none.

    >>> mean_distance(np.array([[3.0, 4.0], [0.0, 1.0]]), np.zeros(2)), mean_distance(np.zeros((0, 2)), np.zeros(2))
    (3.0, None)
    """
    return float(np.linalg.norm(descriptors - centre, axis=1).mean()) if len(descriptors) else None


def identity_margin(descriptors: np.ndarray, centres: np.ndarray, source: int) -> float | None:
    """The mean over (N, 128) descriptors of how much nearer they lie to centroid `source` than to the nearest
    other: above 0, the frame is retrieved as `source`, by that much; None for none.

    >>> centres = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 9.0]])
    >>> identity_margin(np.array([[1.0, 0.0]]), centres, 0), identity_margin(np.array([[3.0, 0.0]]), centres, 0)
    (2.0, -2.0)
    """
    if not len(descriptors):
        return None
    distances = np.linalg.norm(descriptors[:, None] - centres[None], axis=2)
    return float((np.delete(distances, source, axis=1).min(1) - distances[:, source]).mean())


def swap_metrics(pair: PairScores, template_points: np.ndarray, centres: np.ndarray, template: int,
                 source: int, plate: Performance) -> dict:
    """A swap p -> q's metrics, with the identities' descriptor `centres`: p is number `template`, q `source`;
    `plate` is the performance of p's real frames the swap should follow."""
    frames, analyses = len(template_points), pair.analyses
    found = [a for a in analyses if a]
    descriptors = np.stack([a.descriptor for a in found]) if found else np.zeros((0, 128))
    return {
        "faces_found": f"{len(found)}/{frames}",
        "distance_to_source": mean_distance(descriptors, centres[source]),
        "distance_to_template": mean_distance(descriptors, centres[template]),
        "identity_margin": identity_margin(descriptors, centres, source),
        "retrieval_accuracy": retrieval_accuracy(descriptors, centres, np.full(len(found), source)) * len(found)
        / frames if found else 0.0,
        "landmark_error": landmark_errors(analyses, template_points),
        **region_errors(analyses, template_points),
        "temporal_ratio": pair.flicker.value() if pair.flicker.pairs else None,
        # high-frequency energy of the composited face over the plate's: below 1, softer than the plate
        "sharpness_ratio": float(np.mean(pair.sharpness)),
        # CIEDE2000 between the mean Lab colors of the composited face and the plate's face
        "color_error": float(np.mean(pair.color_error)),
        **follow_scores(performance(analyses), plate),
    }


def score_metrics(names: list[str], scores: list[IdentityScores]) -> tuple[dict, dict]:
    """(identities, swaps) sections of metrics.json from each identity's `scores`."""
    centres, plates = centroids(scores), [performance(s.real) for s in scores]
    templates = [s.template_points() for s in scores]
    identities = {p: identity_metrics(s, points, plate) for p, s, points, plate in zip(names, scores, templates, plates)}
    swaps = {f"{p}->{names[j]}": swap_metrics(pair, points, centres, i, j, plates[i])
             for i, (p, s, points) in enumerate(zip(names, scores, templates)) for j, pair in s.pairs.items()}
    for q in names:  # how well q's decoder carries q's identity onto the others' frames
        identities[q]["retrieval_accuracy"] = mean([swaps[f"{p}->{q}"]["retrieval_accuracy"] for p in names if p != q])
    return identities, swaps


def summarise(identities: dict, swaps: dict) -> dict:
    """The summary section: each swap metric's mean over the swaps, then each identity one's over the identities."""
    summary = {key: mean([swap[key] for swap in swaps.values()]) for key in SWAP_SUMMARY}
    return summary | {key: mean([identity[key] for identity in identities.values()]) for key in IDENTITY_SUMMARY}
