"""The swap: a plate (video, image sequence or image) in, the same frames with
the chosen identity's face out.

`swap` runs named stages a reader follows top to bottom: read the plate's
frames and find the face in each (a landmarks pass over the whole shot, then
stabilised: `fusion.swap.frames`), then a second pass (over the frames the
first kept in memory, then the rest read again) that aligns each face,
decodes the faces a batch at a time (network, color, learned matte:
`fusion.swap.decode`), composites each back into its frame and writes it
(`fusion.swap.writer`), and beside the render its manifest (`fusion.swap.manifest`).
Frames where no face is found pass through unchanged and are listed in the
report, with the seconds spent in each stage.
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch

from fusion.hardware import usable_cores
from fusion.io.colorspace import ColorConversion
from fusion.io.footage import source_from_path
from fusion.io.read_ahead import submit_ahead
from fusion.progress import progress
from fusion.stopwatch import Stopwatch
from fusion.swap.color import color_step
from fusion.swap.composite import composite_face
from fusion.swap.coverage import coverage_line
from fusion.swap.decode import DecodedFace, FaceDecoder
from fusion.swap.frames import (KeptFrames, PlateFrame, align_frames, batches, find_plate_faces, keep_budget,
                                 read_plates)
from fusion.swap.loader import load_swap_model
from fusion.swap.manifest import finished_render, render_inputs, render_manifest
from fusion.swap.matte import learned_matte
from fusion.swap.options import SwapOptions
from fusion.swap.tuned_encoder import load_tuning
from fusion.swap.writer import SwapOutputs, check_swap_outputs, manifest_path, output_files, preview_path

__all__ = ["SwapOptions", "SwapReport", "composite_frame", "preview_path", "swap"]

log = logging.getLogger(__name__)


@dataclass
class SwapReport:
    """What a swap did: frames read and swapped, those without a face, and seconds per stage."""

    frames: int = 0
    swapped: int = 0
    no_face: list[int] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    #: what the user should know about this render (also logged), e.g. a tuning made on another shot
    warnings: list[str] = field(default_factory=list)
    #: the manifest of the same render, finished before: nothing was done (`overwrite=true` renders again)
    already: Path | None = None
    #: frames a killed run of the same render had finished, taken over instead of swapped again
    resumed: int = 0
    #: how many frames lie outside the identity's training footage (`coverage_line`); None: its cache is not here
    coverage: str | None = None

    @property
    def frames_per_second(self) -> float:
        """Frames over the seconds of every stage together."""
        return self.frames / max(sum(self.seconds.values()), 1e-9)

    def count(self, frame: PlateFrame) -> None:
        """Count one frame written: swapped, or passed through without a face."""
        self.frames += 1
        if frame.face is None:
            self.no_face.append(frame.index)
        else:
            self.swapped += 1


def composite_frame(frame: PlateFrame, face: DecodedFace | None, options: SwapOptions,
                    colors: ColorConversion = ColorConversion(),
                    device: torch.device | str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """The composite stage: `frame`'s plate with its decoded face blended in (`composite_face`, in the working
    space `colors` converts to, its multi-band blend on `device`) and the (H, W) matte; a frame without a face is
    its plate, unchanged, with a matte of 0."""
    if face is None:
        return frame.plate, np.zeros(frame.plate.shape[:2], np.float32)
    return composite_face(frame.plate, face.pixels, frame.face.matrix, frame.face.polygon, options.blend,
                          options.erode, options.feather, options.grain, frame.index, face.visible, options.quality,
                          colors, device)


def render_frames(frames: Iterable[list[PlateFrame]], decode: FaceDecoder,
                  composite: Callable[[PlateFrame, DecodedFace | None], tuple[np.ndarray, np.ndarray]],
                  outputs: SwapOutputs, report: SwapReport, watch: Stopwatch) -> None:
    """The decode, composite and write stages over batches of `frames`: each batch's faces decoded, its frames
    composited a core each (mostly OpenCV and numpy, which let go of the GIL; `submit_ahead`) and written in
    order, timed as `composite` (the wait for one) and `write`. A core's worth of frames is still compositing
    while the next batch decodes, so no core waits for it. Frames a killed run of this render finished count as
    written."""

    def decoded() -> Iterator[tuple[PlateFrame, DecodedFace | None, bool]]:
        for batch in frames:
            finished = [outputs.done(frame) for frame in batch]
            faces = iter(decode([frame for frame, done in zip(batch, finished) if not done]))
            yield from ((frame, None if done else next(faces), done) for frame, done in zip(batch, finished))

    def composited(item: tuple[PlateFrame, DecodedFace | None, bool]
                   ) -> tuple[PlateFrame, tuple[np.ndarray, np.ndarray] | None]:
        frame, face, done = item
        return frame, None if done else composite(frame, face)

    futures = submit_ahead(composited, decoded(), usable_cores())
    try:
        for future in futures:
            with watch("composite"):
                frame, result = future.result()
            if result is None:
                report.resumed += 1
            else:
                with watch("write"):
                    outputs.write(frame, *result)
            report.count(frame)
    finally:
        futures.close()


def swap(input_path: str | Path, output_path: str | Path, checkpoint: str | Path, identity: str,
         options: SwapOptions = SwapOptions(), cache_dir: str | Path | None = None) -> SwapReport:
    """Swap `identity`'s face into every frame of `input_path` (those `options.frames` names); write to
    `output_path`, with its manifest beside it. With `cache_dir`, the folder of caches, the report says how many
    frames lie outside the identity's training footage (`coverage_line`)."""
    source, output_path = source_from_path(input_path, options.frames), Path(output_path)
    manifest = manifest_path(output_path)
    inputs = None if options.overwrite or not manifest.is_file() else render_inputs(source, checkpoint, identity,
                                                                                     options)
    if inputs is not None and finished_render(manifest, inputs) \
            and all(path.exists() for path in output_files(output_path, source, options.write_matte)):
        return SwapReport(already=manifest)
    check_swap_outputs(output_path, source, checkpoint, options)
    model = load_swap_model(checkpoint, options.device, options.precision)
    matte = learned_matte(options.matte, model.matte, checkpoint)
    color = color_step(options.color, model.color, checkpoint)
    report = SwapReport(warnings=load_tuning(model, options.tuning, checkpoint, source))
    number, crop, watch = model.identity_index(identity), model.crop, Stopwatch()
    kept = KeptFrames(keep_budget())
    landmarks, colors = find_plate_faces(source, crop, options, watch, kept)
    if cache_dir is not None:
        with watch("coverage"):
            report.coverage = coverage_line(landmarks, identity, crop, cache_dir)

    decode = FaceDecoder(model, number, color, matte, watch, colors)
    inputs = inputs or render_inputs(source, checkpoint, identity, options)
    with SwapOutputs(output_path, source, options, inputs.key) as outputs:
        plates = progress(read_plates(source, watch, kept), total=source.frames, desc="swap", unit="frame")
        render_frames(batches(align_frames(plates, landmarks, crop, model.net.output_resolution), options.batch_size),
                      decode, lambda frame, face: composite_frame(frame, face, options, colors, model.device),
                      outputs, report, watch)
        report.seconds = {stage: round(seconds, 3) for stage, seconds in watch.seconds.items()}
        outputs.write_manifest(render_manifest(source, inputs, options, model, report, outputs.fps,
                                               outputs.frames.codec))
    if report.no_face:
        log.warning("%d frames had no face and pass through unchanged: %s", len(report.no_face), report.no_face[:20])
    return report
