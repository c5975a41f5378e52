"""The three terms of semi-supervised matte training, each a function of logits, features and targets.

Every term counts only the pixels of `region`, the crop's hull: the swap cuts
the learned matte by the hull, so outside it the network need not learn
anything, and inside it has one question to answer, face or occluder.

- `supervised_loss`: binary cross-entropy plus soft Dice against a known matte (pasted occluders, painted
  mattes).
- `consistency_loss`: the student's prediction on a strongly augmented view of an unlabelled crop
  against the EMA teacher's confident prediction on a weak view of it (the mean-teacher / FixMatch
  pattern for segmentation).
- `prototype_loss`: class prototypes (the mean feature of "face" and of "not face") from labelled crops
  classify the unlabelled crops' features by cosine similarity, and that classification must agree with
  the teacher: labelled and unlabelled features are pulled into one space, as prototype-based
  consistency methods for semi-supervised segmentation do.
"""

import torch
import torch.nn.functional as F

from fusion.checks import check_shape


def supervised_loss(logits: torch.Tensor, truth: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """BCE + soft Dice of (B, 1, H, W) `logits` against a `truth` in [0, 1], over the pixels of `region` (0 or 1).

    >>> truth = torch.zeros(1, 1, 8, 8); truth[..., 2:6, 2:6] = 1
    >>> everywhere = torch.ones_like(truth)
    >>> exact, unsure = 20 * (2 * truth - 1), torch.zeros_like(truth)
    >>> bool(supervised_loss(exact, truth, everywhere) < 0.01 < supervised_loss(unsure, truth, everywhere))
    True
    >>> float(supervised_loss(-exact, truth, torch.zeros_like(truth)))  # all wrong, but nothing counts
    0.0
    """
    sizes = check_shape(logits, "B 1 H W", "logits")
    check_shape(truth, "B 1 H W", "truth", sizes)
    check_shape(region, "B 1 H W", "region", sizes)
    probability = torch.sigmoid(logits) * region
    truth = truth * region
    overlap = (probability * truth).sum((1, 2, 3))
    dice = 1 - (2 * overlap + 1) / (probability.sum((1, 2, 3)) + truth.sum((1, 2, 3)) + 1)
    bce = F.binary_cross_entropy_with_logits(logits, truth, reduction="none")
    bce = (bce * region).sum() / region.sum().clamp_min(1)
    return bce + dice.mean()


def confident_targets(teacher_probability: torch.Tensor, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The teacher's hard labels (probability > 0.5) and where it is at least `threshold` sure of them.

    >>> labels, sure = confident_targets(torch.tensor([0.05, 0.4, 0.97]), 0.9)
    >>> labels.tolist(), sure.tolist()
    ([0.0, 0.0, 1.0], [1.0, 0.0, 1.0])
    """
    labels = (teacher_probability > 0.5).float()
    sure = (torch.maximum(teacher_probability, 1 - teacher_probability) >= threshold).float()
    return labels, sure


def consistency_loss(student_logits: torch.Tensor, labels: torch.Tensor, sure: torch.Tensor,
                     region: torch.Tensor) -> torch.Tensor:
    """BCE of the student against the teacher's labels where the teacher is sure, averaged over all of
    `region`'s pixels (so an unsure teacher asks little).

    >>> labels = torch.ones(1, 1, 4, 4)
    >>> float(consistency_loss(torch.full((1, 1, 4, 4), -5.0), labels, torch.zeros_like(labels), labels))
    0.0
    """
    check_shape(student_logits, "B 1 H W", "student logits")
    loss = F.binary_cross_entropy_with_logits(student_logits, labels, reduction="none")
    return (loss * sure * region).sum() / region.sum().clamp_min(1)


def prototypes(features: torch.Tensor, truth: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """(2, C) unit prototypes, "not face" then "face": the mean unit feature of each class of (B, 1, H, W)
    `truth` (soft weights) over (B, C, H, W) `features`, in `region`."""
    sizes = check_shape(features, "B C H W", "features")
    check_shape(truth, "B 1 H W", "truth", sizes)
    unit = F.normalize(features, dim=1)
    weights = torch.cat([1 - truth, truth], 1) * region  # (B, 2, H, W)
    summed = torch.einsum("bkhw,bchw->kc", weights, unit)
    return F.normalize(summed / weights.sum((0, 2, 3))[:, None].clamp_min(1e-6), dim=1)


def prototype_loss(labelled_features: torch.Tensor, truth: torch.Tensor, labelled_region: torch.Tensor,
                   unlabelled_features: torch.Tensor, labels: torch.Tensor, sure: torch.Tensor,
                   unlabelled_region: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Cross-entropy of the unlabelled features classified by the labelled prototypes (cosine / `temperature`)
    against the teacher's labels where it is sure, over each batch's region.

    >>> truth = torch.zeros(1, 1, 4, 4); truth[..., :, 2:] = 1
    >>> features, everywhere = torch.cat([1 - truth, truth], 1), torch.ones_like(truth)  # classes apart
    >>> aligned = prototype_loss(features, truth, everywhere, features, truth, everywhere, everywhere)
    >>> crossed = prototype_loss(features, truth, everywhere, features, 1 - truth, everywhere, everywhere)
    >>> bool(aligned < 0.01 < crossed)
    True
    """
    centres = prototypes(labelled_features, truth, labelled_region)
    similarity = torch.einsum("bchw,kc->bkhw", F.normalize(unlabelled_features, dim=1), centres) / temperature
    loss = F.cross_entropy(similarity, labels[:, 0].long(), reduction="none")[:, None]
    return (loss * sure * unlabelled_region).sum() / unlabelled_region.sum().clamp_min(1)
