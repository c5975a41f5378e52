"""The plate's frames as the swap carries them through its first stages: read, find, align, batch.

Faces are found in a pass of their own over the whole shot (`find_faces`), so
that their landmarks can be stabilised over it before any frame is aligned;
the first frames it read stay in memory for the second pass, as many as fit
(`KeptFrames`), and only the rest are read again.
A frame then travels as a `PlateFrame`: its color pixels, the frame as
stored (every channel and the header, which the writer keeps) and, where a
face was found, where that face lies (`Face`); frames without one travel too,
so every frame is written in order.
"""

from collections import deque
from dataclasses import dataclass, replace
from itertools import islice
from typing import Callable, Iterable, Iterator, TypeVar

import numpy as np

from fusion.data.cache import CropSettings
from fusion.faces.align import alignment_matrix
from fusion.faces.eight_bit import eight_bit
from fusion.faces.hull import hull_polygon
from fusion.faces.landmarks import load_backend
from fusion.faces.stabilise import stabilise
from fusion.faces.tracker import FaceTracker
from fusion.hardware import available_memory, usable_cores
from fusion.io.colorspace import ColorConversion, color_conversion, note_default_colors
from fusion.io.footage import Source, read_frames_ahead
from fusion.io.plate import Frame
from fusion.progress import progress
from fusion.stopwatch import Stopwatch
from fusion.swap.options import FindOptions

T = TypeVar("T")


@dataclass(frozen=True)
class Face:
    """Where a face lies in its plate: `matrix` (2, 3) maps plate to crop coordinates, `polygon` (N, 2) is
    the mask's hull in plate pixels."""

    matrix: np.ndarray
    polygon: np.ndarray


@dataclass(frozen=True)
class PlateFrame:
    """One frame of the plate: its index in the shot, its color pixels (RGB: uint8, uint16 or float32), its
    face (None: none found, the frame passes through unchanged) and the frame as `stored` (every channel,
    the header; None: `plate` is all there is)."""

    index: int
    plate: np.ndarray
    face: Face | None = None
    stored: Frame | None = None


class KeptFrames:
    """The first frames of a shot that the find pass read, kept while they fit in `budget` bytes, so that the
    swap's pass takes them instead of reading them again (a 4K frame's decode: docs/measurements.md)."""

    def __init__(self, budget: int):
        self.budget, self.frames, self.bytes, self.full = budget, deque(), 0, False

    def offer(self, frame: PlateFrame) -> None:
        """Keep `frame` if every frame before it was kept and it fits."""
        stored = frame.stored.pixels if frame.stored is not None else frame.plate
        size = frame.plate.nbytes + (stored.nbytes if stored is not frame.plate else 0)
        if self.full or self.bytes + size > self.budget:
            self.full = True
            return
        self.frames.append(frame)
        self.bytes += size

    def take(self) -> Iterator[PlateFrame]:
        """The kept frames in order, each let go as it is taken."""
        while self.frames:
            yield self.frames.popleft()


def keep_budget(share: float = 0.25) -> int:
    """Bytes of plate frames a swap keeps between its passes: `share` of the memory the process may still take
    when it starts (`available_memory`: within a SLURM job's or a container's limit)."""
    return int(share * available_memory())


def read_plates(source: Source, watch: Stopwatch, kept: KeptFrames | None = None,
                then: Callable[[PlateFrame], T] | None = None) -> Iterator[PlateFrame] | Iterator[tuple[PlateFrame, T]]:
    """The read stage: every frame of `source` in order: first those `kept` holds, then the rest decoded ahead,
    an image file per core (`read_frames_ahead`), timed as `read` (the wait for them); a frame that cannot be
    decoded raises its error. With `then`, each frame comes as (frame, `then(frame)`), made where it was read."""
    start = 0
    for frame in kept.take() if kept is not None else ():
        start = frame.index + 1
        yield frame if then is None else (frame, then(frame))

    def plate(pair: tuple[int, Frame | Exception]) -> PlateFrame | tuple[PlateFrame, T]:
        index, frame = pair
        if isinstance(frame, Exception):
            raise frame
        frame = PlateFrame(index, frame.rgb, stored=frame)
        return frame if then is None else (frame, then(frame))

    yield from watch.iterate(read_frames_ahead(source, start, source.frames, usable_cores(), plate), "read")


def detector_copy(frame: PlateFrame, colors: ColorConversion = ColorConversion()) -> np.ndarray:
    """The 8-bit copy of a frame's color pixels the face tracker sees (`find_faces`)."""
    if colors.colorspace is not None:
        return colors.to_display(frame.plate)
    header = frame.stored.header if frame.stored is not None else None
    return eight_bit(frame.plate, halves=header is not None and header.all_half)


def find_faces(source: Source, tracker: FaceTracker, smooth_window: int, watch: Stopwatch,
               colors: ColorConversion = ColorConversion(), kept: KeptFrames | None = None) -> np.ndarray:
    """The find stage: (frames, 68, 2) float32 landmarks of the face `tracker` follows through the whole shot,
    stabilised over `smooth_window` frames; NaN in frames where no face was found. The tracker sees each frame's
    8-bit copy (`eight_bit`: `to_uint8`'s numbers by table, so a float plate's frame is not run through the
    sRGB curve; a plate in a named colorspace through `colors.to_display`), made beside its read, a frame per
    core, and timed with it as `read`. Each frame read is offered to `kept`."""
    track = np.full((source.frames, 68, 2), np.nan, np.float32)
    frames = read_plates(source, watch, then=lambda frame: detector_copy(frame, colors))
    for frame, image8 in progress(frames, total=source.frames, desc="landmarks", unit="frame"):
        if kept is not None:
            kept.offer(frame)
        _, points = tracker(image8)
        if points is not None:
            track[frame.index] = points
    with watch("landmarks"):
        return stabilise(track, smooth_window)


def find_plate_faces(source: Source, crop: CropSettings, options: FindOptions, watch: Stopwatch,
                     kept: KeptFrames | None = None) -> tuple[np.ndarray, ColorConversion]:
    """The find stage as the swap runs it: (frames, 68, 2) landmarks (`find_faces`, its frames offered to
    `kept`), tracked as `options` say, else as the checkpoint's crops (`crop`) were made, and the conversion of
    the plate's colors to the crops' working space."""
    colors = color_conversion(options.colorspace, crop.working_space, options.ocio_config)
    if options.colorspace is None:
        note_default_colors(str(source.path))
    tracker = FaceTracker(load_backend(options.landmarks or crop.landmarks), options.jitter or crop.jitter, watch)
    return find_faces(source, tracker, options.smooth_window or crop.smooth_window, watch, colors, kept), colors


def align_face(points: np.ndarray, crop: CropSettings, size: int) -> Face | None:
    """The align stage for one frame: where the face with these (68, 2) landmarks lies, laid out as the
    checkpoint's `size` px crops were (`crop`); None where the landmarks are NaN (no face found)."""
    if np.isnan(points[0, 0]):
        return None
    points = points.astype(np.float64)
    matrix = alignment_matrix(points, size, crop.face_scale, crop.alignment)
    return Face(matrix, hull_polygon(points, crop.mask_enlarge))


def align_frames(frames: Iterable[PlateFrame], landmarks: np.ndarray, crop: CropSettings,
                 size: int) -> Iterator[PlateFrame]:
    """Each frame with its face aligned from its row of `landmarks` (`align_face`)."""
    for frame in frames:
        yield replace(frame, face=align_face(landmarks[frame.index], crop, size))


def batches(frames: Iterable[PlateFrame], size: int) -> Iterator[list[PlateFrame]]:
    """Consecutive runs of `size` frames in order (the last may be shorter): the frames whose faces are
    decoded together. Frames without a face stay in their place in the run.

    >>> [[frame.index for frame in batch] for batch in batches((PlateFrame(i, None) for i in range(5)), 2)]
    [[0, 1], [2, 3], [4]]
    """
    frames = iter(frames)
    while batch := list(islice(frames, size)):
        yield batch
