"""Expression consistency: a swap decoded from a frame should keep that frame's head pose, mouth opening and eye
openness, whoever's face it draws (issue 29).

Training triplets only ever ask a decoder to rebuild its own identity, so
nothing asks another identity's decoder to follow the frame: the swaps' mouths
and pitch drift to each decoder's average. Here each batch is also decoded by
another identity, a frozen `LandmarkNet` reads landmarks from that swap and
from the source, and the loss is the mean absolute difference of what the
evaluation compares (`fusion.metrics.performance`), in forms that are
differentiable and need no fit: the mouth's opening (inner lips' gap over its
width), the eyes' openness (height over width), and, for the pose, where the nose
tip lies against the eyes (its offset across and below their midpoint over the
distance between them: yaw and pitch in aligned crops, where roll is aligned away).
"""

import torch
from torch import Tensor

from fusion.checks import check_shape
from fusion.model.landmark_net import LandmarkNet

#: The inner lips' facing pairs (upper, lower), the mouth's corners, each eye's six points, outer eye corners,
#: the nose tip: the 68-point layout's.
_INNER_LIPS, _MOUTH_CORNERS = ((61, 67), (62, 66), (63, 65)), (48, 54)
_EYES, _OUTER_EYES, _NOSE_TIP = (range(36, 42), range(42, 48)), (36, 45), 30


def _distance(a: Tensor, b: Tensor) -> Tensor:
    """Euclidean distance of point sets (..., 2), smooth at 0 so a closed mouth still has a gradient."""
    return ((a - b).square().sum(-1) + 1e-8).sqrt()


def performance_terms(points: Tensor) -> Tensor:
    """(B, 4) mouth opening, eye openness, nose offset across and below the eyes' midpoint (over the eyes'
    distance) of (B, 68, 2) landmarks.

    >>> points = torch.zeros(1, 68, 2)  # eyes from x 0 to 1 and 3 to 4, shut; the mouth 4 wide, shut
    >>> for index, x, y in ((36, 0, 0), (39, 1, 0), (42, 3, 0), (45, 4, 0), (30, 3, 2), (48, 0, 3), (54, 4, 3)):
    ...     points[0, index] = torch.tensor([x, y], dtype=torch.float32)
    >>> [round(value, 3) for value in performance_terms(points)[0].tolist()]
    [0.0, 0.0, 0.25, 0.5]
    """
    check_shape(points, "B 68 2", "points")
    width = _distance(points[:, _MOUTH_CORNERS[0]], points[:, _MOUTH_CORNERS[1]])
    gap = torch.stack([_distance(points[:, a], points[:, b]) for a, b in _INNER_LIPS]).mean(0)
    eyes = torch.stack([(_distance(points[:, e[1]], points[:, e[5]]) + _distance(points[:, e[2]], points[:, e[4]]))
                        / (2 * _distance(points[:, e[0]], points[:, e[3]])) for e in _EYES]).mean(0)
    left, right = points[:, _OUTER_EYES[0]], points[:, _OUTER_EYES[1]]
    nose = (points[:, _NOSE_TIP] - (left + right) / 2) / _distance(left, right)[:, None]
    return torch.stack([gap / width, eyes, nose[:, 0], nose[:, 1]], 1)


class ExpressionLoss:
    """The mean absolute difference of `performance_terms` between swaps and the frames they were decoded from,
    read by a frozen `LandmarkNet` (kept out of the training module's weights: it is not what a checkpoint ships).

    >>> loss = ExpressionLoss(LandmarkNet(resolution=32, width=8))
    >>> frames = torch.rand(2, 3, 32, 32)
    >>> float(loss(frames, frames))
    0.0
    """

    def __init__(self, net: LandmarkNet):
        self.net = net.eval().requires_grad_(False)

    def __call__(self, swaps: Tensor, frames: Tensor) -> Tensor:
        if self.net.head[-1].weight.device != swaps.device:
            self.net.to(swaps.device)
        with torch.no_grad():
            wanted = performance_terms(self.net(frames))
        return (performance_terms(self.net(swaps)) - wanted).abs().mean()
