"""The swap as `evaluate` runs it at plate scale: held-out frames' faces decoded as an identity, harmonised by the
color step and composited into their plates by `swap.py`'s own composite, at the plate's resolution; each result
seen through the same view as the plate's face, its sharpness measured in the face box of the plate itself."""

import numpy as np
import torch
import torch.nn.functional as F

from fusion.color.scores import mean_color_error
from fusion.eval.plate_heldout import PlateBatch, view_of
from fusion.eval.swapped import Swapped
from fusion.eval.swapper import Swapper
from fusion.faces.hull import polygon_mask
from fusion.io.colorspace import ColorConversion
from fusion.metrics.sharpness import sharpness_ratio
from fusion.swap.composite import composite_face, face_box
from fusion.swap.frames import Face


def plate_sharpness(swapped: np.ndarray, plate: np.ndarray, face: Face, colors: ColorConversion) -> float:
    """`sharpness_ratio` of a composited frame to its plate inside the face's hull, in the face box at the
    plate's resolution (the working space's values: what the face was composited in)."""
    x0, y0, x1, y1 = face_box(face.polygon, plate.shape, margin=0.0)
    swapped, plate = (torch.from_numpy(colors.to_working(image[y0:y1, x0:x1])).permute(2, 0, 1)[None]
                      for image in (swapped, plate))
    mask = polygon_mask(face.polygon - [x0, y0], (y1 - y0, x1 - x0)) / np.float32(255)
    return float(sharpness_ratio(swapped, plate, torch.from_numpy(mask)[None, None]))


class PlateSwapper(Swapper):
    """Composites decoded held-out faces back into their plates with `composite_face`'s `options` (`erode`,
    `feather` in plate pixels, as `swap.py` takes them)."""

    def composite(self, faces: torch.Tensor, batch: PlateBatch, visible: torch.Tensor | None) -> Swapped:
        """Decoded `faces` harmonised with the batch's crops and composited into their plates: the composites'
        views, their sharpness in the plate and their mean color against the plates' faces."""
        faces = self.harmonised(faces, batch)
        size, cuts = faces.shape[-1], visible[:, 0].numpy() if visible is not None else [None] * len(faces)
        views, sharpness = [], []
        for frame, face, cut in zip(batch.frames, faces.permute(0, 2, 3, 1).numpy(), cuts):
            swapped, _ = composite_face(frame.plate, face, frame.face.matrix, frame.face.polygon, **self.options,
                                        seed=frame.index, visible=cut, colors=batch.colors)
            views.append(view_of(swapped, frame.face.matrix, size, batch.colors))
            sharpness.append(plate_sharpness(swapped, frame.plate, frame.face, batch.colors))
        views = torch.from_numpy(np.stack(views)).permute(0, 3, 1, 2)
        faces = F.interpolate(views, size=(size, size), mode="area")  # a mean color: the crops' size will do
        return Swapped(views, sharpness, mean_color_error(faces, batch.crops, batch.masks).tolist())
