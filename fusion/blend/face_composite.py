"""The face composite rule: how a decoded face goes into the image behind it.

One rule for the swap and, with `FusionModule(blend={"rule": "composite"})`,
for the training loss, so training can judge a face as the swap will show it:

- the pyramid depth follows the face (`face_levels`): the image behind keeps
  the levels where the face is ~`PLATE_FACE_PIXELS` wide, lighting and color
  but not features;
- the blend runs on the hard matte (the mask eroded by `ERODE` of the face's
  size) without the no-leak erosion, and is then cut by that matte with a
  soft band (`FEATHER` of the face box's width) inside its edge, so the image
  behind is untouched where the matte is 0.

`fusion.swap.composite` applies it to a plate (numpy, a polygon, an elliptic
erosion and a Euclidean feather); `composite_faces` applies it to batches of
aligned crops (torch, differentiable in the face and the image behind, a
square erosion and a box-filter feather). Why the swap cannot use the crop
blend, and what training with this rule measured: docs/design.md (The swap
composite, and why it differs from the training blend).
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from fusion.blend.erosion import erode_mask
from fusion.blend.multiband import multiband_blend
from fusion.blend.pyramid import default_levels

__all__ = ["composite_faces", "face_levels", "face_size", "soft_matte"]

#: Width of the face, in pixels, at the finest level the composite takes from the image behind.
PLATE_FACE_PIXELS = 10

#: Levels that the composite takes from the image behind alone.
KEEP_COARSE = 2

#: Erosion of the matte when none is given, as a share of the face's size (`face_size`):
#: about the 10% enlargement of the landmark hull (5% a side), so the seam sits
#: near the jaw and brow landmarks.
ERODE = 0.06

#: Soft band inside the matte's edge when no feather is given, as a share of the face box's width.
FEATHER = {"alpha": 0.05, "multiband": 0.03}

#: Margin of the face box around the mask, as a share of the mask's extent (room for the blend).
BOX_MARGIN = 0.15


def face_levels(face_width: float, box: tuple[int, int]) -> int:
    """Pyramid depth that shows a face `face_width` px across at ~`PLATE_FACE_PIXELS` on the finest kept level,
    within what a `box` = (H, W) region can be halved to.

    >>> face_levels(81, (105, 105)), face_levels(650, (850, 850)), face_levels(81, (20, 20))
    (5, 8, 3)
    """
    wanted = KEEP_COARSE + max(1, round(math.log2(face_width / PLATE_FACE_PIXELS)))
    return max(KEEP_COARSE + 1, min(wanted, default_levels(*box) + 2))


def face_size(mask: Tensor) -> float:
    """Mean over the (B, 1, H, W) masks of their face's larger extent in pixels (where each passes 0.5),
    as the swap measures a face polygon's.

    >>> mask = torch.zeros(2, 1, 64, 64)
    >>> mask[0, :, 10:50, 12:42] = 1
    >>> mask[1, :, 20:50, 10:60] = 1
    >>> face_size(mask)
    45.0
    """
    if mask.dim() != 4 or mask.shape[1] != 1:
        raise ValueError(f"expected a (B, 1, H, W) mask, got shape {tuple(mask.shape)}")
    inside = mask > 0.5
    extent = torch.maximum(inside.any(dim=-2).sum(dim=-1), inside.any(dim=-1).sum(dim=-1))
    return float(extent.float().mean())


def soft_matte(hard: Tensor, feather: float) -> Tensor:
    """`hard` times a smoothstep ramp over the `feather` pixels inside its edge: still 0 wherever it was.

    The distance to the nearest pixel outside is read from a box filter of
    `2 * feather + 1` pixels (exact for a straight edge, a little less at
    corners), which costs the same at any feather width on any device.

    >>> hard = torch.zeros(1, 1, 40, 40)
    >>> hard[..., 5:35, 5:35] = 1
    >>> soft = soft_matte(hard, 4)
    >>> [round(float(v), 3) for v in soft[0, 0, 20, 4:12]]
    [0.0, 0.156, 0.5, 0.844, 1.0, 1.0, 1.0, 1.0]
    """
    if feather < 0:
        raise ValueError(f"feather must be non-negative pixels, got {feather}")
    radius = int(round(feather))
    if radius == 0:
        return hard
    inside = (hard > 0).to(hard.dtype)
    share = F.avg_pool2d(F.pad(inside, (radius,) * 4, mode="replicate"), 2 * radius + 1, stride=1)
    distance = (2 * share - 1) * (radius + 0.5) + 0.5  # to the nearest pixel outside, as OpenCV counts it
    ramp = (distance / feather).clamp(0, 1)
    return hard * ramp * ramp * (3 - 2 * ramp)


def composite_faces(face: Tensor, behind: Tensor, mask: Tensor, erode: float | None = None,
                    feather: float | None = None, match_contrast: bool = False) -> Tensor:
    """Aligned `face` crops (B, C, H, W) composited into `behind` by the face rule under the hull `mask`.

    `erode` and `feather` are pixels; None is `ERODE` of the faces' mean size
    (`face_size`) and `FEATHER["multiband"]` of their box's width, as the swap takes them.

    >>> face, behind = torch.rand(2, 1, 3, 128, 128)
    >>> mask = torch.zeros(1, 1, 128, 128)
    >>> mask[..., 24:112, 24:104] = 1
    >>> out = composite_faces(face, behind, mask)
    >>> bool((out - behind)[..., mask[0, 0] == 0].abs().max() == 0), bool((out - face)[..., 64, 64].abs().max() < 0.2)
    (True, True)
    """
    if face.shape != behind.shape or mask.shape != (face.shape[0], 1, *face.shape[-2:]):
        raise ValueError(f"expected face and behind (B, C, H, W) and mask (B, 1, H, W), got "
                         f"{tuple(face.shape)}, {tuple(behind.shape)}, {tuple(mask.shape)}")
    size = face_size(mask)
    erode = ERODE * size if erode is None else erode
    if feather is None:
        feather = FEATHER["multiband"] * max(size * (1 + 2 * BOX_MARGIN) - 2 * erode, 0.0)
    hard = erode_mask(mask, int(round(erode)))
    levels = face_levels(max(size, 1.0), tuple(face.shape[-2:]))
    blended = multiband_blend(face, behind, hard, levels=levels, keep_coarse=KEEP_COARSE, erode=0,
                              match_contrast=match_contrast)
    return behind + soft_matte(hard, feather) * (blended - behind)
