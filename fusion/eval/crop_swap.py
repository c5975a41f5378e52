"""The swap as `evaluate` runs it on held-out crops: decoded as an identity, harmonised by the color step and
composited into the crop exactly as `swap.py` composites into a plate, at the same options (in crop space the
alignment is the identity warp). Its counterpart at plate scale is `fusion.eval.plate_swap`."""

import numpy as np
import torch

from fusion.color.scores import mean_color_error
from fusion.eval.heldout import HeldOutBatch
from fusion.eval.swapped import Swapped
from fusion.eval.swapper import Swapper
from fusion.io.image import decode, to_unit
from fusion.metrics.sharpness import sharpness_ratio
from fusion.swap.composite import composite_face


def composite_crops(faces: torch.Tensor, templates: torch.Tensor, polygons: list[np.ndarray], options: dict,
                    visible: torch.Tensor | None = None) -> torch.Tensor:
    """`composite_face` of each decoded face into its template crop (crop space: the identity warp).

    The crops are network-encoded values, so they go in as 16-bit pixels (display-referred, as stored):
    a float plate would be read as scene-linear and the face would come back through the sRGB curve.
    """
    identity = np.eye(2, 3)
    as_hwc = lambda images: images.permute(0, 2, 3, 1).contiguous().numpy()  # noqa: E731
    plates = decode(as_hwc(templates), np.uint16)
    cuts = visible[:, 0].numpy() if visible is not None else [None] * len(plates)
    frames = [composite_face(plate, face, identity, polygon, **options, visible=cut)[0]
              for face, plate, polygon, cut in zip(as_hwc(faces), plates, polygons, cuts)]
    return torch.from_numpy(to_unit(np.stack(frames))).permute(0, 3, 1, 2)


class CropSwapper(Swapper):
    """Composites decoded held-out faces back into their crops with `composite_face`'s `options`."""

    def composite(self, faces: torch.Tensor, batch: HeldOutBatch, visible: torch.Tensor | None) -> Swapped:
        """Decoded `faces` harmonised with the batch's crops and composited into them, (B, 3, R, R) in [0, 1],
        with their sharpness and color against the crops inside the face masks."""
        swapped = composite_crops(self.harmonised(faces, batch), batch.crops, batch.polygons, self.options, visible)
        return Swapped(swapped, sharpness_ratio(swapped, batch.crops, batch.masks).tolist(),
                       mean_color_error(swapped, batch.crops, batch.masks).tolist())
