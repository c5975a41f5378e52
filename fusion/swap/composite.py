"""Putting a decoded face back into its plate.

The face is warped from crop space into a box around the face in the plate,
then blended there with the same multi-band blend as in training (contrast
aligned to the plate) or with a plain alpha. Only pixels where the face matte
(`fusion.swap.matte`) is non-zero can change: everything else is the plate's,
bit for bit, whatever its dtype.
"""

import cv2
import numpy as np
import torch

from fusion.blend import multiband_blend
from fusion.io.image import to_unit, white_level
from fusion.swap.matte import face_matte

BLENDS = ("multiband", "alpha")

#: Soft band of the alpha blend when no feather is given, as a share of the face
#: box's width: a hard paste would show the decoder's edge.
ALPHA_FEATHER = 0.05


def face_box(polygon: np.ndarray, shape: tuple[int, ...], margin: float = 0.15,
             grow: float = 0.0) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) around the mask polygon, with a margin for the blend plus
    `grow` pixels for a grown matte, inside the frame."""
    low, high = polygon.min(0), polygon.max(0)
    pad = (high - low) * margin + max(grow, 0.0)
    x0, y0 = np.maximum(np.floor(low - pad), 0).astype(int)
    x1, y1 = np.minimum(np.ceil(high + pad), [shape[1], shape[0]]).astype(int)
    return int(x0), int(y0), int(x1), int(y1)


def composite_face(plate: np.ndarray, face: np.ndarray, matrix: np.ndarray, polygon: np.ndarray,
                   blend: str = "multiband", erode: float = 0.0, feather: float | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Blend `face` ((R, R, 3) float in [0, 1], crop space) into `plate` at the face.

    `matrix` maps plate to crop coordinates; `polygon` is the mask in plate
    coordinates. `erode` and `feather` shape the matte (pixels, see
    `face_matte`); feather None is `ALPHA_FEATHER` of the face for the alpha
    blend and 0 for the multi-band one, whose bands make their own seam.
    Returns the new frame (the plate's dtype) and the matte (H, W) float32 in
    [0, 1], 0 exactly where the plate is kept.
    """
    if blend not in BLENDS:
        raise ValueError(f"unknown blend {blend!r}; choose one of {', '.join(BLENDS)}")
    x0, y0, x1, y1 = face_box(polygon, plate.shape, grow=-erode)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return plate.copy(), np.zeros(plate.shape[:2], np.float32)
    to_crop = np.vstack([matrix, [0, 0, 1]]) @ np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64)
    warped = cv2.warpAffine(face.astype(np.float32), to_crop[:2], (x1 - x0, y1 - y0),
                            flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    if feather is None:
        feather = ALPHA_FEATHER * (x1 - x0) if blend == "alpha" else 0.0
    mask = face_matte(polygon - [x0, y0], (y1 - y0, x1 - x0), erode, feather)
    scale = white_level(plate.dtype)
    region = to_unit(plate[y0:y1, x0:x1])
    if blend == "multiband":
        as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None]
        mixed = multiband_blend(as_tensor(warped), as_tensor(region), torch.from_numpy(mask)[None, None])
        mixed = mixed[0].permute(1, 2, 0).numpy()
    else:
        mixed = warped * mask[..., None] + region * (1 - mask[..., None])
    if scale != 1.0:
        mixed = np.clip(np.round(mixed * scale), 0, scale)
    out = plate.copy()
    inside = mask > 0
    out[y0:y1, x0:x1][inside] = mixed[inside].astype(plate.dtype)
    matte = np.zeros(plate.shape[:2], np.float32)
    matte[y0:y1, x0:x1] = mask
    return out, matte
