"""The decode stage of a swap: a batch of frames' faces warped to crops, decoded as the chosen identity,
harmonised with their plates' colors and, with a learned matte, told where they are visible.

The faces of a batch go through the network together; frames without a face
get None and keep their place, so the composite stage can zip decoded faces
with their frames.
"""

from dataclasses import dataclass

import numpy as np
import torch

from fusion.faces.align import transform_points, warp_face
from fusion.faces.hull import polygon_mask
from fusion.io.colorspace import ColorConversion
from fusion.model.matte_net import MatteNet
from fusion.stopwatch import Stopwatch
from fusion.swap.color import ColorStep
from fusion.swap.frames import Face, PlateFrame
from fusion.swap.loader import SwapModel


@dataclass(frozen=True)
class DecodedFace:
    """A decoded face in crop space: `pixels` (R, R, 3) float32 in [0, 1], and `visible` (R, R), the learned
    matte's probability of visible face (None without a learned matte)."""

    pixels: np.ndarray
    visible: np.ndarray | None = None


def face_crops(frames: list[PlateFrame], size: int, colors: ColorConversion = ColorConversion()) -> torch.Tensor:
    """(B, 3, size, size) crops of the frames' faces in the working space `colors` converts to, in order (frames
    with a face only)."""
    crops = np.stack([colors.to_working(warp_face(frame.plate, frame.face.matrix, size)) for frame in frames])
    return torch.from_numpy(crops).permute(0, 3, 1, 2)


def face_masks(faces: list[Face], size: int) -> torch.Tensor:
    """(B, 1, size, size) float32 masks in [0, 1] of the faces' hulls in crop space: where the color step
    measures the plate's colors."""
    masks = np.stack([polygon_mask(transform_points(face.polygon, face.matrix), size) for face in faces])
    return torch.from_numpy(masks / np.float32(255))[:, None]


class FaceDecoder:
    """The decode stage: `model`'s network as identity number `identity`, then the color step `color` and
    the learned matte `matte` where they run (None: not); each timed by `watch` (align, network, color, matte).
    Crops are converted to the network's working space by `colors`."""

    def __init__(self, model: SwapModel, identity: int, color: ColorStep | None, matte: MatteNet | None,
                 watch: Stopwatch, colors: ColorConversion = ColorConversion()):
        self.model, self.identity, self.color, self.matte, self.watch = model, identity, color, matte, watch
        self.colors = colors
        self.size = model.net.output_resolution

    def __call__(self, frames: list[PlateFrame]) -> list[DecodedFace | None]:
        """One decoded face per frame of `frames`, None for a frame without a face."""
        with_face = [frame for frame in frames if frame.face is not None]
        if not with_face:
            return [None] * len(frames)
        with self.watch("align"):
            crops = face_crops(with_face, self.size, self.colors)
        with self.watch("network"):
            decoded = self.model.decode(crops, self.identity)
        if self.color is not None:
            with self.watch("color"):
                decoded = self.color(decoded, crops, face_masks([frame.face for frame in with_face], self.size))
        visible = [None] * len(with_face)
        if self.matte is not None:
            with self.watch("matte"):
                visible = self.matte.predict(crops)[:, 0].numpy()
        faces = iter(DecodedFace(*face) for face in zip(decoded.permute(0, 2, 3, 1).numpy(), visible))
        return [next(faces) if frame.face is not None else None for frame in frames]
