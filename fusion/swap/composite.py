"""Putting a decoded face back into its plate.

The face is warped from crop space into a box around the face in the plate,
then blended there by the face composite rule (`fusion.blend.face_composite`:
pyramid depth from the face's size, the blend cut by the eroded, feathered
matte, contrast aligned to the plate) or with a plain alpha. Only pixels where
the face matte (`fusion.swap.matte`: the hull, cut by the learned matte where one is used) is
non-zero can change: everything else
is the plate's, bit for bit, whatever its dtype. The color conversions run
where they are needed only: into the network's encoding inside the face box,
back to the plate's pixels where the matte is non-zero.
"""

import cv2
import numpy as np
import torch

from fusion.blend import multiband_blend
from fusion.blend.face_composite import BOX_MARGIN, ERODE, FEATHER, KEEP_COARSE, face_levels
from fusion.io.colorspace import ColorConversion
from fusion.swap.disc_erosion import support_window
from fusion.swap.grain import add_grain
from fusion.swap.matte import cut_occluders, feather_matte, hard_matte
from fusion.swap.options import check_blend
from fusion.swap.quality import match_quality

def face_box(polygon: np.ndarray, shape: tuple[int, ...], margin: float = BOX_MARGIN,
             grow: float = 0.0) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) around the mask polygon, with a margin for the blend plus
    `grow` pixels for a grown matte, inside the frame."""
    low, high = polygon.min(0), polygon.max(0)
    pad = (high - low) * margin + max(grow, 0.0)
    x0, y0 = np.maximum(np.floor(low - pad), 0).astype(int)
    x1, y1 = np.minimum(np.ceil(high + pad), [shape[1], shape[0]]).astype(int)
    return int(x0), int(y0), int(x1), int(y1)


def _planes(image: np.ndarray) -> torch.Tensor:
    """An (H, W, C) image as a contiguous (1, C, H, W) tensor, one plane copied at a time (torch's own
    channels-last copy is several times slower on a large face box).

    >>> _planes(np.arange(12, dtype=np.float32).reshape(2, 2, 3))[0, 1].tolist()
    [[1.0, 4.0], [7.0, 10.0]]
    """
    planes = np.empty((image.shape[2], *image.shape[:2]), image.dtype)
    for channel, plane in enumerate(planes):
        plane[...] = image[..., channel]
    return torch.from_numpy(planes)[None]


def _mix(face: np.ndarray, region: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`face` over `region` ((..., 3) each) by `mask` (...): the alpha composite.

    >>> _mix(np.ones((1, 3), np.float32), np.zeros((1, 3), np.float32), np.array([0.25], np.float32)).tolist()
    [[0.25, 0.25, 0.25]]
    """
    return face * mask[..., None] + region * (1 - mask[..., None])


def _put_back(box: np.ndarray, mixed: np.ndarray, inside: np.ndarray, colors: ColorConversion) -> None:
    """Write working-space `mixed` into the plate's `box` (both (h, w, 3)) where `inside` (h, w), converted to the
    plate's pixels: an integer plate in fusion's encoding converts the whole box (a rounding: cheaper than picking
    the pixels out), any other only the pixels inside (a power curve or OCIO per pixel).

    >>> box = np.zeros((1, 2, 3), np.uint8)
    >>> _put_back(box, np.full((1, 2, 3), 0.5, np.float32), np.array([[True, False]]), ColorConversion())
    >>> box[..., 0].tolist()
    [[128, 0]]
    """
    if colors.is_default and box.dtype.kind == "u":
        np.copyto(box, colors.from_working(mixed, box.dtype), where=inside[..., None])
    else:
        box[inside] = colors.from_working(mixed[inside], box.dtype)


def composite_face(plate: np.ndarray, face: np.ndarray, matrix: np.ndarray, polygon: np.ndarray,
                   blend: str = "multiband", erode: float | None = None, feather: float | None = None,
                   grain: bool = False, seed: int = 0, visible: np.ndarray | None = None, quality: str = "none",
                   colors: ColorConversion = ColorConversion(),
                   device: torch.device | str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Blend `face` ((R, R, 3) float in [0, 1], crop space) into `plate` at the face.

    `matrix` maps plate to crop coordinates; `polygon` is the mask in plate
    coordinates. `erode` and `feather` shape the matte (pixels, see
    `fusion.swap.matte`); None is `ERODE` of the face's width and `FEATHER[blend]`
    of the face box's width. `grain` gives the face the plate's noise level
    (`fusion.swap.grain`), drawn from `seed`. `visible` ((R, R) float in crop space, the learned matte's
    probability of visible face) cuts occluders out of the matte before it is feathered, so they stay the
    plate's, bit for bit. `quality="match"` gives the face the plate's blur, noise and compression
    (`fusion.swap.quality`; it includes `grain`). `colors` takes the face box to the face's working space and
    back (`fusion.io.colorspace`; by default fusion's encoding before OCIO). `device` is where the multi-band
    blend runs (the swap's: on a GPU its torch form; the warp, matte and mix stay on the CPU).
    Returns the new frame (the plate's dtype) and the matte (H, W) float32 in
    [0, 1], 0 exactly where the plate is kept.
    """
    check_blend(blend, quality)
    face_width = float(np.ptp(polygon, 0).max())
    if erode is None:
        erode = ERODE * face_width
    x0, y0, x1, y1 = face_box(polygon, plate.shape, grow=-erode)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return plate.copy(), np.zeros(plate.shape[:2], np.float32)
    to_crop = np.vstack([matrix, [0, 0, 1]]) @ np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64)
    warped = cv2.warpAffine(face.astype(np.float32), to_crop[:2], (x1 - x0, y1 - y0),
                            flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    if feather is None:
        feather = FEATHER[blend] * (x1 - x0)
    hard = hard_matte(polygon - [x0, y0], (y1 - y0, x1 - x0), erode)
    if visible is not None:
        hard = cut_occluders(hard, cv2.warpAffine(visible.astype(np.float32), to_crop[:2], (x1 - x0, y1 - y0),
                                                  flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                                  borderMode=cv2.BORDER_REPLICATE))
    mask = feather_matte(hard, feather)
    region = colors.to_working(plate[y0:y1, x0:x1])
    face = warped
    if blend == "multiband":
        levels = face_levels(face_width, hard.shape)
        blended = multiband_blend(_planes(warped).to(device), _planes(region).to(device),
                                  torch.from_numpy(hard)[None, None].to(device), levels=levels,
                                  keep_coarse=KEEP_COARSE, erode=0, source_scale=1 / np.hypot(*matrix[0, :2]))
        blended = blended[0].cpu().numpy()
        face = cv2.merge(list(blended))
    out = plate.copy()
    if quality == "match":
        _put_back(out[y0:y1, x0:x1], match_quality(face, region, mask, (x0, y0), seed), mask > 0, colors)
    elif grain:
        _put_back(out[y0:y1, x0:x1], add_grain(_mix(face, region, mask), region, mask, seed), mask > 0, colors)
    else:  # mixed only in the matte's window: the rest of the box keeps the plate
        inside = mask > 0
        window = support_window(inside.view(np.uint8))
        if window is not None:
            _put_back(out[y0:y1, x0:x1][window], _mix(face[window], region[window], mask[window]), inside[window],
                      colors)
    matte = np.zeros(plate.shape[:2], np.float32)
    matte[y0:y1, x0:x1] = mask
    return out, matte
