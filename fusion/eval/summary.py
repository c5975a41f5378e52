"""From the scores `evaluate` kept to metrics.json's numbers: per identity, per swap p -> q, and the summary.

Identity is measured against each identity's centroid of dlib descriptors of
its real held-out frames; landmark errors against the template frames' cached
landmarks. A swap with no face found counts as a retrieval miss, not as
missing data.
"""

import numpy as np

from fusion.eval.analyse import Analysis
from fusion.eval.identity import retrieval_accuracy
from fusion.eval.scores import IdentityScores, PairScores
from fusion.metrics.expression import REGIONS, landmark_error, landmark_error_by_region

#: The summary's means over the swaps.
SWAP_SUMMARY = ("retrieval_accuracy", "landmark_error", "temporal_ratio", "sharpness_ratio", "color_error",
                *(f"landmark_error_{region}" for region in REGIONS))
#: The summary's means over the identities.
IDENTITY_SUMMARY = ("ssim", "landmark_error_real", "landmark_error_self_swap")


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


def centroids(scores: list[IdentityScores]) -> np.ndarray:
    """(identities, 128): each identity's mean descriptor over the real held-out frames where a face was found."""
    return np.stack([np.mean([a.descriptor for a in s.real if a], 0) for s in scores])


def identity_metrics(scores: IdentityScores, template_points: np.ndarray) -> dict:
    """An identity's frames, reconstruction and the floors of a swap's landmark error: the measurement itself
    (the real frames) and the model without an identity change (the self-swap)."""
    ssim, psnr = scores.ssim_psnr()
    return {"frames": len(template_points), "ssim": ssim, "psnr": psnr,
            "landmark_error_real": landmark_errors(scores.real, template_points),
            "landmark_error_self_swap": landmark_errors(scores.self_swap, template_points)}


def mean_distance(descriptors: np.ndarray, centre: np.ndarray) -> float | None:
    """The mean distance of (N, 128) descriptors to a centroid; None for none.

    >>> mean_distance(np.array([[3.0, 4.0], [0.0, 1.0]]), np.zeros(2)), mean_distance(np.zeros((0, 2)), np.zeros(2))
    (3.0, None)
    """
    return float(np.linalg.norm(descriptors - centre, axis=1).mean()) if len(descriptors) else None


def swap_metrics(pair: PairScores, template_points: np.ndarray, centres: np.ndarray, template: int,
                 source: int) -> dict:
    """A swap p -> q's metrics, with the identities' descriptor `centres`: p is number `template`, q `source`."""
    frames, analyses = len(template_points), pair.analyses
    found = [a for a in analyses if a]
    descriptors = np.stack([a.descriptor for a in found]) if found else np.zeros((0, 128))
    return {
        "faces_found": f"{len(found)}/{frames}",
        "distance_to_source": mean_distance(descriptors, centres[source]),
        "distance_to_template": mean_distance(descriptors, centres[template]),
        "retrieval_accuracy": retrieval_accuracy(descriptors, centres, np.full(len(found), source)) * len(found)
        / frames if found else 0.0,
        "landmark_error": landmark_errors(analyses, template_points),
        **region_errors(analyses, template_points),
        "temporal_ratio": pair.flicker.value() if pair.flicker.pairs else None,
        # high-frequency energy of the composited face over the plate's: below 1, softer than the plate
        "sharpness_ratio": float(np.mean(pair.sharpness)),
        # CIEDE2000 between the mean Lab colors of the composited face and the plate's face
        "color_error": float(np.mean(pair.color_error)),
    }


def score_metrics(names: list[str], scores: list[IdentityScores], templates: list[np.ndarray]) -> tuple[dict, dict]:
    """(identities, swaps) sections of metrics.json from each identity's `scores` and template landmarks."""
    centres = centroids(scores)
    identities = {p: identity_metrics(s, points) for p, s, points in zip(names, scores, templates)}
    swaps = {f"{p}->{names[j]}": swap_metrics(pair, points, centres, i, j)
             for i, (p, s, points) in enumerate(zip(names, scores, templates)) for j, pair in s.pairs.items()}
    for q in names:  # how well q's decoder carries q's identity onto the others' frames
        identities[q]["retrieval_accuracy"] = mean([swaps[f"{p}->{q}"]["retrieval_accuracy"] for p in names if p != q])
    return identities, swaps


def summarise(identities: dict, swaps: dict) -> dict:
    """The summary section: each swap metric's mean over the swaps, then each identity one's over the identities."""
    summary = {key: mean([swap[key] for swap in swaps.values()]) for key in SWAP_SUMMARY}
    return summary | {key: mean([identity[key] for identity in identities.values()]) for key in IDENTITY_SUMMARY}
