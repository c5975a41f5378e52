"""The held-out frames as plates: each identity's held-out tail read from its footage and carried through the
swap's own read, find and align stages (`fusion.swap.frames`), a batch at a time.

The held-out frames are those of the crop-space evaluation (the tail of each
source that training validated on); each source's run of them is read as a
plate cut to those frames, so its faces are tracked and stabilised as
`swap.py` would track them in that shot. A frame whose face the swap's
tracker does not find is counted, not scored. Each frame is seen three ways:
the network's crop, a `VIEW_SIZE` px view of the same face for dlib's
analysis, the flicker and the contact sheet, and the plate itself, which the
swap composites into at its own resolution.
"""

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from fusion.data.cache import CropSettings
from fusion.errors import UserError
from fusion.eval.analyse import DESCRIBE_SIZE
from fusion.eval.heldout import HeldOut
from fusion.faces.align import rescaled_matrix, transform_points, warp_face
from fusion.faces.hull import polygon_mask
from fusion.io.colorspace import ColorConversion
from fusion.io.footage import Source, scan_identity, select_frames
from fusion.metrics.temporal import Position
from fusion.progress import progress
from fusion.stopwatch import Stopwatch
from fusion.swap.decode import face_crops, face_masks
from fusion.swap.frames import PlateFrame, align_frames, batches, find_plate_faces, read_plates
from fusion.swap.options import FindOptions

#: Pixels of the square view of each face that is analysed, compared frame to frame and shown.
VIEW_SIZE = DESCRIBE_SIZE


@dataclass(frozen=True)
class PlateBatch:
    """A batch of one identity's held-out frames as plates: the `frames` (each with its face, aligned as the
    swap aligns it), the network's `crops` (B, 3, R, R) and hull `masks` (B, 1, R, R), the `views`
    (B, 3, V, V) of the same faces and their `view_masks`, the swap's tracked landmarks `points` (B, 68, 2) in
    crop pixels, (source, frame) `positions`, and the conversion of the plates' colors to the working space."""

    frames: list[PlateFrame]
    crops: torch.Tensor
    masks: torch.Tensor
    views: torch.Tensor
    view_masks: torch.Tensor
    points: np.ndarray
    positions: list[Position]
    colors: ColorConversion


def named_footage(cache: Path) -> str | None:
    """The footage folder `cache`'s report.json names (None: no report, or none named)."""
    report = cache / "report.json"
    return json.loads(report.read_text()).get("footage") if report.is_file() else None


def missing_footage(cache: Path, footage: str | None) -> str:
    """Why the held-out frames cannot be read as plates, and the fix."""
    said = f"footage {footage} is not a folder here" if footage else f"no footage named in {cache / 'report.json'}"
    return (f"{said}: evaluating at plate scale reads the held-out frames from the footage the cache was prepared "
            "from; give footage=PATH (the folder of identities prepare.py read), or plate_scale=false to score in "
            "crop space only")


def footage_root(cache: Path, footage: str | None) -> Path | None:
    """The folder of the footage `cache` was prepared from: `footage` (a UserError where it is not a folder), else
    the one its report.json names, where that is a folder here (else None: the cache moved, or was made apart)."""
    if footage is not None and not Path(footage).is_dir():
        raise UserError(missing_footage(cache, footage))
    footage = footage or named_footage(cache)
    return Path(footage) if footage and Path(footage).is_dir() else None


def view_of(plate: np.ndarray, matrix: np.ndarray, size: int, colors: ColorConversion) -> np.ndarray:
    """(VIEW_SIZE, VIEW_SIZE, 3) float32 working-space view of the face that `matrix` maps to a `size` px crop."""
    return colors.to_working(warp_face(plate, rescaled_matrix(matrix, VIEW_SIZE / size), VIEW_SIZE))


def plate_batch(frames: list[PlateFrame], landmarks: np.ndarray, positions: list[Position], size: int,
                colors: ColorConversion) -> PlateBatch:
    """The batch of `frames` (each with a face), their rows of the tracked `landmarks`, at `size` px crops."""
    faces = [frame.face for frame in frames]
    views = np.stack([view_of(frame.plate, face.matrix, size, colors) for frame, face in zip(frames, faces)])
    view_masks = np.stack([polygon_mask(transform_points(face.polygon, rescaled_matrix(face.matrix, VIEW_SIZE / size)),
                                        VIEW_SIZE) for face in faces])
    points = np.stack([transform_points(landmarks[frame.index].astype(np.float64), face.matrix)
                       for frame, face in zip(frames, faces)])
    return PlateBatch(frames, face_crops(frames, size, colors), face_masks(faces, size),
                      torch.from_numpy(views).permute(0, 3, 1, 2),
                      torch.from_numpy(view_masks / np.float32(255))[:, None], points, positions, colors)


class PlateHeldOut:
    """The held-out frames of `held_out` read as plates from the footage under `footage` and found and aligned
    as the swap does (`crop`: the checkpoint's crop settings; `find`: how the plates' colors are read), for the
    network's `size` px crops. `without_face` counts, per identity, the held-out frames the tracker missed."""

    def __init__(self, held_out: HeldOut, footage: Path, crop: CropSettings, size: int, find: FindOptions):
        self.held_out, self.footage, self.crop, self.size, self.find = held_out, footage, crop, size, find
        self.without_face: dict[str, int] = {}
        self.watch = Stopwatch()

    def source(self, identity: str, name: str) -> Source:
        """The source called `name` among `identity`'s footage; a UserError where the footage lacks it."""
        sources = {source.name: source for source in scan_identity(self.footage, identity).sources}
        if name not in sources:
            raise UserError(f"{self.footage}: {identity}'s footage has no {name!r}, which the cache was prepared "
                            f"from (it has {sorted(sources) or 'nothing'}); give footage= the folder prepare.py read")
        return sources[name]

    def batches(self, identity: int, name: str, size: int) -> Iterator[PlateBatch]:
        """Identity number `identity`'s held-out frames as plates, `size` at a time, source after source."""
        runs = defaultdict(list)
        for source_name, frame in self.held_out.positions_of(identity):
            runs[source_name].append(frame)
        self.without_face[name] = 0
        for source_name, frames in progress(runs.items(), desc=f"{name}: held-out plates", unit="source"):
            source = select_frames(self.source(name, source_name), f"{min(frames)}-{max(frames)}")
            landmarks, colors = find_plate_faces(source, self.crop, self.find, self.watch)
            held = set(frames)
            aligned = (frame for frame in align_frames(read_plates(source, self.watch), landmarks, self.crop, self.size)
                       if source.number(frame.index) in held)
            for chunk in batches(aligned, size):
                found = [frame for frame in chunk if frame.face is not None]
                self.without_face[name] += len(chunk) - len(found)
                if found:
                    yield plate_batch(found, landmarks, [(source_name, source.number(frame.index)) for frame in found],
                                      self.size, colors)
