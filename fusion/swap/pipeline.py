"""The swap: a plate (video, image sequence or image) in, the same frames with
the chosen identity's face out.

Two passes over the input, as in `prepare`: landmarks for every frame, then
(after stabilising them over the whole shot) align, decode in batches, warp
back and blend. Frames where no face is found pass through unchanged and are
listed in the report, with the seconds spent in each stage.
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from fusion.errors import ConfigError
from fusion.faces.align import alignment_matrix, transform_points, warp_face
from fusion.faces.landmarks import load_backend
from fusion.faces.hull import hull_polygon, polygon_mask
from fusion.faces.stabilise import stabilise
from fusion.faces.tracker import FaceTracker
from fusion.io.atomic import StagedOutputs
from fusion.io.footage import VIDEO_EXTENSIONS, read_frames, source_from_path
from fusion.io.image import IMAGE_EXTENSIONS, as_rgb, encode, to_uint8
from fusion.io.outputs import check_outputs
from fusion.io.video import frame_rate
from fusion.progress import progress
from fusion.stopwatch import Stopwatch
from fusion.swap.colour import check_color, harmonise
from fusion.swap.composite import check_blend, composite_face
from fusion.swap.loader import load_swap_model
from fusion.swap.matte import check_matte
from fusion.swap.review_video import PreviewWriter
from fusion.swap.tuned_encoder import apply_tuned_encoder, other_shot
from fusion.swap.writer import FrameWriter, output_files

log = logging.getLogger(__name__)


@dataclass
class SwapOptions:
    """What a compositor sets for a shot (`conf/swap.yaml` documents each)."""

    device: str = "auto"
    precision: str = "auto"
    blend: str = "multiband"
    #: hull | learned (the checkpoint's occlusion-aware matte, from matte.py)
    matte: str = "hull"
    #: none | stats | lut (the checkpoint's colour LUT network, from color.py): the face takes the plate's grade
    color: str = "none"
    erode: float | None = None
    feather: float | None = None
    grain: bool = False
    #: none | match: the face gets the plate's blur, noise and compression (`fusion.swap.quality`)
    quality: str = "none"
    write_matte: bool = False
    preview: bool = False
    preview_height: int = 540
    overwrite: bool = False
    fps: float | None = None
    batch_size: int = 8
    #: how faces are found and tracked; None: as the checkpoint's crops were made
    landmarks: str | None = None
    jitter: int | None = None
    smooth_window: int | None = None
    #: a shot-tuned encoder from tune.py to load over the checkpoint's (`fusion.swap.tuned_encoder`)
    tuning: str | None = None


@dataclass
class SwapReport:
    """What a swap did: frames read and swapped, those without a face, and seconds per stage."""

    frames: int = 0
    swapped: int = 0
    no_face: list[int] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    #: what the user should know about this render (also logged), e.g. a tuning made on another shot
    warnings: list[str] = field(default_factory=list)

    @property
    def frames_per_second(self) -> float:
        """Frames over the seconds of every stage together."""
        return self.frames / max(sum(self.seconds.values()), 1e-9)


def preview_path(output_path: Path) -> Path:
    """Where `preview=true` writes the side-by-side video: beside the output, `<name>_preview.mp4`."""
    return output_path.with_name(output_path.stem + "_preview.mp4")


def swap(input_path: str | Path, output_path: str | Path, checkpoint: str | Path, identity: str,
         options: SwapOptions = SwapOptions()) -> SwapReport:
    """Swap `identity`'s face into every frame of `input_path`; write to `output_path`."""
    check_blend(options.blend, options.quality)  # before the landmark pass, not at the first composite
    check_matte(options.matte)
    check_color(options.color)
    source = source_from_path(input_path)
    output_path = Path(output_path)
    if output_path.suffix.lower() not in VIDEO_EXTENSIONS + IMAGE_EXTENSIONS + ("",):
        raise ConfigError(f"output={output_path}: write to a video ({', '.join(VIDEO_EXTENSIONS)}), an image or a folder")
    outputs = output_files(output_path, source, options.write_matte) + ([preview_path(output_path)] if options.preview else [])
    inputs = [source.path, Path(checkpoint)] + ([Path(options.tuning)] if options.tuning else [])
    check_outputs(outputs, inputs, options.overwrite)
    model = load_swap_model(checkpoint, options.device, options.precision)
    check_matte(options.matte, model.matte is not None, checkpoint)
    check_color(options.color, model.color is not None, checkpoint)
    report = SwapReport()
    if options.tuning:
        mismatch = other_shot(apply_tuned_encoder(model, options.tuning, checkpoint), source)
        if mismatch:
            log.warning("tuning=%s: %s", options.tuning, mismatch)
            report.warnings.append(f"tuning={options.tuning}: {mismatch}")
    number = model.identity_index(identity)
    fps = options.fps or (frame_rate(source.path) if source.is_video else 24.0)
    crop = model.crop
    backend = load_backend(options.landmarks or crop.landmarks)
    watch = Stopwatch()
    track = np.full((source.frames, 68, 2), np.nan, np.float32)
    tracker = FaceTracker(backend, options.jitter or crop.jitter, watch)
    frames = watch.iterate(read_frames(source, 0, source.frames), "read")
    for index, image in progress(frames, total=source.frames, desc="landmarks", unit="frame"):
        if isinstance(image, Exception):
            raise image
        _, points = tracker(to_uint8(as_rgb(image)[0]))
        if points is not None:
            track[index] = points
    with watch("landmarks"):
        smooth = stabilise(track, options.smooth_window or crop.smooth_window)

    size = model.net.output_resolution
    with StagedOutputs() as staged, FrameWriter(output_path, source, staged, options.write_matte, fps) as writer, \
            PreviewWriter(preview_path(output_path), options.preview_height, fps, staged) as preview:
        pending: list[tuple[int, np.ndarray, np.ndarray | None, np.ndarray | None]] = []

        def emit(plate: np.ndarray, frame: np.ndarray, matte: np.ndarray) -> None:
            with watch("write"):
                writer.write(frame, matte)
                if options.preview:
                    preview.write_pair(plate, frame)

        def flush() -> None:
            faces = [p for p in pending if p[2] is not None]
            if faces:
                with watch("align"):
                    crops = torch.from_numpy(np.stack([encode(warp_face(p[1], p[2], size)) for p in faces]))
                with watch("network"):
                    decoded = model.decode(crops.permute(0, 3, 1, 2), number)
                if options.color != "none":
                    with watch("color"):
                        masks = np.stack([polygon_mask(transform_points(polygon, matrix), size)
                                          for _, _, matrix, polygon in faces])
                        masks = torch.from_numpy(masks / np.float32(255))[:, None]
                        decoded = harmonise(decoded, crops.permute(0, 3, 1, 2), masks, options.color, model.color)
                decoded = decoded.permute(0, 2, 3, 1).numpy()
                visible = [None] * len(faces)
                if options.matte == "learned":
                    with watch("matte"):
                        visible = model.matte.predict(crops.permute(0, 3, 1, 2))[:, 0].numpy()
                results = iter(zip(decoded, visible))
            for index, plate, matrix, polygon in pending:
                if matrix is None:
                    emit(plate, plate, np.zeros(plate.shape[:2], np.float32))
                    continue
                face, visible_face = next(results)
                with watch("composite"):
                    frame, matte = composite_face(plate, face, matrix, polygon, options.blend, options.erode,
                                                  options.feather, options.grain, index, visible_face,
                                                  options.quality)
                emit(plate, frame, matte)
            pending.clear()

        frames = watch.iterate(read_frames(source, 0, source.frames), "read")
        for index, image in progress(frames, total=source.frames, desc="swap", unit="frame"):
            plate = as_rgb(image)[0]
            report.frames += 1
            if np.isnan(smooth[index, 0, 0]):
                report.no_face.append(index)
                pending.append((index, plate, None, None))
            else:
                points = smooth[index].astype(np.float64)
                matrix = alignment_matrix(points, size, crop.face_scale, crop.alignment)
                pending.append((index, plate, matrix, hull_polygon(points, crop.mask_enlarge)))
                report.swapped += 1
            if len(pending) >= options.batch_size:
                flush()
        flush()
    report.seconds = {stage: round(seconds, 3) for stage, seconds in watch.seconds.items()}
    if report.no_face:
        log.warning("%d frames had no face and pass through unchanged: %s", len(report.no_face), report.no_face[:20])
    return report
