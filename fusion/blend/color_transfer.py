"""Color-statistics transfer (Reinhard et al. 2001) in CIE Lab (kornia): one image's colors moved to
another's mean and standard deviation per channel, inside a mask."""

import torch
from kornia.color import lab_to_rgb, rgb_to_lab

from fusion.checks import check_shape


def _moments(lab: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    weight = mask / mask.sum((2, 3), keepdim=True).clamp_min(1e-6)
    mean = (lab * weight).sum((2, 3), keepdim=True)
    std = ((lab - mean).square() * weight).sum((2, 3), keepdim=True).sqrt()
    return mean, std


def transfer_stats(face: torch.Tensor, plate: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """`face` with the Lab mean and standard deviation (per channel, inside `mask`) of `plate`; all (B, C, H, W)
    in [0, 1], mask (B, 1, H, W).

    >>> plate = torch.rand(1, 3, 16, 16) * 0.5 + 0.2
    >>> face = plate * 0.8  # darker: about an offset in L
    >>> bool((transfer_stats(face, plate, torch.ones(1, 1, 16, 16)) - plate).abs().max() < 0.01)
    True
    """
    sizes = check_shape(face, "B 3 H W", "face")
    check_shape(plate, "B 3 H W", "plate", sizes)
    check_shape(mask, "B 1 H W", "mask", sizes)
    face_lab, plate_lab = rgb_to_lab(face.clamp(0, 1)), rgb_to_lab(plate.clamp(0, 1))
    (face_mean, face_std), (plate_mean, plate_std) = _moments(face_lab, mask), _moments(plate_lab, mask)
    moved = (face_lab - face_mean) * (plate_std / face_std.clamp_min(1e-3)) + plate_mean
    return lab_to_rgb(moved, clip=True)
