"""Writing swapped frames: a video, an image sequence in the input's format and
bit depth, or a single image; optionally the face matte beside them.

Every file is staged and moved into place only when the whole render (and
whatever else shares its StagedOutputs, such as the preview) succeeded: a
swap that fails on frame 900 of 1000 leaves the previous render intact. A
sequence and the matte folder are each replaced whole, so after a render they
hold exactly its frames, named after the plate's: a render shorter than the
last leaves none of the last one's frames behind. `SwapOutputs` is the
swap's write stage: the frames, their mattes and the preview, staged together.
"""

from contextlib import ExitStack
from pathlib import Path

import numpy as np

from fusion.errors import ConfigError, DiskFullError, OutputError
from fusion.io.atomic import StagedOutputs, disk_full
from fusion.io.footage import VIDEO_EXTENSIONS, Source
from fusion.io.image import IMAGE_EXTENSIONS, write_image
from fusion.io.outputs import check_outputs, replaced_files
from fusion.io.video import VideoWriter, frame_rate
from fusion.swap.options import SwapOptions
from fusion.swap.review_video import PreviewWriter

#: What a matte folder holds: 16-bit PNGs.
MATTE_SUFFIXES = (".png",)


def matte_folder(output: Path) -> Path:
    """Where `write_matte=true` puts the mattes: beside the output, `<name>_matte/`."""
    return output.with_name(output.stem + "_matte")


def preview_path(output: Path) -> Path:
    """Where `preview=true` writes the side-by-side video: beside the output, `<name>_preview.mp4`.

    >>> preview_path(Path("renders/shot.mov")).as_posix()
    'renders/shot_preview.mp4'
    """
    return output.with_name(output.stem + "_preview.mp4")


def matte_path(output: Path, source: Source, index: int) -> Path:
    """Frame `index`'s matte: named after its plate image (`<plate stem>.png`), or for a video `matte.<index>.png`.

    >>> plates = Source("", Path("shot"), "shot", 1, (Path("shot/plate.0101.exr"),))
    >>> matte_path(Path("out"), plates, 0).as_posix(), matte_path(Path("out.mp4"), plates, 0).as_posix()
    ('out_matte/plate.0101.png', 'out_matte/plate.0101.png')
    >>> matte_path(Path("out.mp4"), Source("", Path("plate.mov"), "plate.mov", 10), 7).as_posix()
    'out_matte/matte.000007.png'
    """
    name = source.images[index].stem if source.images else f"matte.{index:06d}"
    return matte_folder(output) / f"{name}.png"


def frame_path(folder: Path, source: Source, index: int) -> Path:
    """A sequence output's frame: the input image's own name, or `<video stem>.<index>.png`."""
    if source.images:
        return folder / source.images[index].name
    return folder / f"{source.path.stem}.{index:06d}.png"


def _with_replaced(files: list[Path], folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """`files` (all in `folder`) and the previous render's frames there that replacing `folder` removes."""
    return list(dict.fromkeys(files + replaced_files(folder, suffixes)))


def _mattes(output: Path, source: Source) -> list[Path]:
    """Every frame's matte; refused where two plates would share one (`a.exr` and `a.png`)."""
    mattes: dict[Path, int] = {}
    for index in range(source.frames):
        path = matte_path(output, source, index)
        if path in mattes:
            raise OutputError(f"{source.images[mattes[path]]} and {source.images[index]} would both write the matte "
                              f"{path}; keep one image per frame in {source.path}")
        mattes[path] = index
    return list(mattes)


def output_files(output: Path, source: Source, write_matte: bool) -> list[Path]:
    """Every file a swap of `source` to `output` writes (frames, mattes) or removes (a previous render's frames
    in a folder it replaces), for checks before any work; a folder holding anything else is refused."""
    if output.suffix:
        files = [output]
    else:
        files = _with_replaced([frame_path(output, source, index) for index in range(source.frames)], output,
                               IMAGE_EXTENSIONS)
    if write_matte:
        files += _with_replaced(_mattes(output, source), matte_folder(output), MATTE_SUFFIXES)
    return files


class FrameWriter:
    """Context manager taking frames in order. Video goes through ffmpeg
    (H.264, 8-bit) at the plate's frame rate; images keep their dtype. A
    sequence's folder and the matte folder are staged whole (`StagedOutputs.folder`)."""

    def __init__(self, output: Path, source: Source, staged: StagedOutputs, write_matte: bool = False,
                 fps: float = 24.0):
        self.output, self.source, self.write_matte, self.staged = output, source, write_matte, staged
        self.count = 0
        self.bytes = 0
        if not output.suffix:
            staged.folder(output, IMAGE_EXTENSIONS)
        if write_matte:
            staged.folder(matte_folder(output), MATTE_SUFFIXES)
        self._video = (VideoWriter(output, fps, staged=staged, frames=source.frames)
                       if output.suffix.lower() in VIDEO_EXTENSIONS else None)

    def __enter__(self) -> "FrameWriter":
        return self

    def _image(self, path: Path, image: np.ndarray) -> None:
        staged = self.staged.path(path)
        try:
            write_image(staged, image)
        except DiskFullError as error:
            remaining = self.source.frames - self.count
            needed = self.bytes // self.count * remaining if self.count else None
            raise disk_full(path.parent, needed) from error
        self.bytes += staged.stat().st_size

    def write(self, frame: np.ndarray, matte: np.ndarray) -> None:
        """Stage the next swapped frame in the output's format (and, with `write_matte`, its matte as a
        16-bit PNG); a full disk is reported with the space the rest of the render needs.
        """
        if self._video is not None:
            self._video.write(frame)
        elif self.output.suffix:
            self._image(self.output, frame)
        else:
            self._image(frame_path(self.output, self.source, self.count), frame)
        if self.write_matte:
            matte16 = (np.clip(matte, 0, 1) * 65535 + 0.5).astype(np.uint16)
            self._image(matte_path(self.output, self.source, self.count), matte16)
        self.count += 1

    def __exit__(self, *exc) -> None:
        if self._video is not None:
            self._video.__exit__(*exc)


def check_swap_outputs(output: Path, source: Source, checkpoint: str | Path, options: SwapOptions) -> None:
    """Refuse, before any work, an output that is neither a video, an image nor a folder, and outputs that
    `check_outputs` refuses (existing without `overwrite`, or among the swap's inputs)."""
    if output.suffix.lower() not in VIDEO_EXTENSIONS + IMAGE_EXTENSIONS + ("",):
        raise ConfigError(f"output={output}: write to a video ({', '.join(VIDEO_EXTENSIONS)}), an image or a folder")
    outputs = output_files(output, source, options.write_matte) + ([preview_path(output)] if options.preview else [])
    inputs = [source.path, Path(checkpoint)] + ([Path(options.tuning)] if options.tuning else [])
    check_outputs(outputs, inputs, options.overwrite)


class SwapOutputs:
    """The swap's write stage, a context manager: each swapped frame (and its matte with `write_matte`) through
    a `FrameWriter`, and beside it the side-by-side preview with `preview`, at `options.fps` (None: the plate's
    frame rate, 24 for images). All are staged together and moved into place only when the whole render
    succeeded."""

    def __init__(self, output: Path, source: Source, options: SwapOptions):
        self.output, self.source, self.options = output, source, options
        self.fps = options.fps or (frame_rate(source.path) if source.is_video else 24.0)
        self._stack = ExitStack()
        self.frames: FrameWriter | None = None
        self.preview: PreviewWriter | None = None

    def __enter__(self) -> "SwapOutputs":
        with ExitStack() as stack:
            staged = stack.enter_context(StagedOutputs())
            self.frames = stack.enter_context(FrameWriter(self.output, self.source, staged, self.options.write_matte,
                                                          self.fps))
            if self.options.preview:
                self.preview = stack.enter_context(PreviewWriter(preview_path(self.output),
                                                                 self.options.preview_height, self.fps, staged))
            self._stack = stack.pop_all()
        return self

    def write(self, plate: np.ndarray, frame: np.ndarray, matte: np.ndarray) -> None:
        """Stage the next swapped `frame` with its `matte`, and `plate` | `frame` in the preview."""
        self.frames.write(frame, matte)
        if self.preview is not None:
            self.preview.write_pair(plate, frame)

    def __exit__(self, *exc) -> bool | None:
        return self._stack.__exit__(*exc)
