"""Writing swapped frames: a video, an image sequence (a folder, or numbered by a pattern such as
`out/sc01.####.exr`) or a single image, each frame like its plate's file (`fusion.io.plate.write_frame`:
format, pixel type, compression, windows, channels, header); optionally the face matte beside them, and
always a manifest saying how the render was made.

Every file is staged and moved into place only when the whole render (and
whatever else shares its StagedOutputs, such as the preview) succeeded: a
swap that fails on frame 900 of 1000 leaves the previous render intact. A
sequence's folder and the matte folder are each replaced whole, so after a render they
hold exactly its frames, named after the plate's (or by the pattern, with the plate's frame numbers): a
render shorter than the last leaves none of the last one's frames behind. `SwapOutputs` is the
swap's write stage: the frames, their mattes, the preview and the manifest, staged together.
"""

import json
import os
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from fractions import Fraction
from pathlib import Path

import numpy as np

from fusion.errors import ConfigError, DiskFullError, OutputError
from fusion.hardware import usable_cores
from fusion.io.atomic import StagedOutputs, disk_full, write_bytes
from fusion.io.footage import VIDEO_EXTENSIONS, Source
from fusion.io.image import write_image
from fusion.io.outputs import check_outputs, replaced_files
from fusion.io.plate import IMAGE_EXTENSIONS, Frame, FramePattern, format_of, output_type, read_header, write_frame
from fusion.io.video import VideoWriter, check_codec
from fusion.io.video_read import as_rate
from fusion.swap.frames import PlateFrame
from fusion.swap.options import SwapOptions
from fusion.swap.review_video import PreviewWriter

#: What a matte folder holds: 16-bit PNGs.
MATTE_SUFFIXES = (".png",)
#: The channel layouts a video takes as they are (others give it their R, G, B).
VIDEO_CHANNELS = (("R", "G", "B"), ("R", "G", "B", "A"))


def render_base(output: Path) -> Path:
    """What the files beside a render are named after: a pattern output's folder, else the output itself.

    >>> render_base(Path("renders/shot.mov")).as_posix(), render_base(Path("/renders/v1/sc01.####.exr")).as_posix()
    ('renders/shot.mov', '/renders/v1')
    """
    pattern = FramePattern.parse(output)
    return Path(os.path.abspath(pattern.folder)) if pattern else output


def sequence_folder(output: Path) -> Path | None:
    """The folder a render to `output` fills with frames and replaces whole (an output folder, or a pattern
    output's folder); None for a video or an image."""
    if FramePattern.parse(output):
        return render_base(output)
    return None if output.suffix else output


def matte_folder(output: Path) -> Path:
    """Where `write_matte=true` puts the mattes: beside the output, `<name>_matte/`."""
    base = render_base(output)
    return base.with_name(base.stem + "_matte")


def preview_path(output: Path) -> Path:
    """Where `preview=true` writes the side-by-side video: beside the output, `<name>_preview.mp4`.

    >>> preview_path(Path("renders/shot.mov")).as_posix()
    'renders/shot_preview.mp4'
    """
    base = render_base(output)
    return base.with_name(base.stem + "_preview.mp4")


def manifest_path(output: Path) -> Path:
    """Where a render's manifest goes: `<output>.json`, for a pattern output `<its folder>.json`.

    >>> manifest_path(Path("renders/shot.mov")).as_posix(), manifest_path(Path("/renders/v1/sc01.####.exr")).as_posix()
    ('renders/shot.mov.json', '/renders/v1.json')
    """
    base = render_base(output)
    return base.with_name(base.name + ".json")


def matte_path(output: Path, source: Source, index: int) -> Path:
    """Frame `index`'s matte: for a pattern output, named by the pattern with the plate's frame number
    (`.png`); else after its plate image (`<plate stem>.png`), or for a video `matte.<frame number>.png`.

    >>> plates = Source("", Path("shot"), "shot", 1, (Path("shot/plate.0101.exr"),), (101,))
    >>> matte_path(Path("out"), plates, 0).as_posix(), matte_path(Path("out.mp4"), plates, 0).as_posix()
    ('out_matte/plate.0101.png', 'out_matte/plate.0101.png')
    >>> matte_path(Path("/r/out/sc01.####.exr"), plates, 0).as_posix()
    '/r/out_matte/sc01.0101.png'
    >>> matte_path(Path("out.mp4"), Source("", Path("plate.mov"), "plate.mov", 10), 7).as_posix()
    'out_matte/matte.000007.png'
    """
    pattern = FramePattern.parse(output)
    if pattern:
        name = Path(pattern.path(source.number(index)).name).stem
    else:
        name = source.images[index].stem if source.images else f"matte.{source.number(index):06d}"
    return matte_folder(output) / f"{name}.png"


def frame_path(output: Path, source: Source, index: int) -> Path:
    """A sequence output's frame: by the pattern with the plate's frame number, else the input image's own
    name, or `<video stem>.<frame number>.png`."""
    pattern = FramePattern.parse(output)
    if pattern:
        return render_base(output) / pattern.path(source.number(index)).name
    if source.images:
        return output / source.images[index].name
    return output / f"{source.path.stem}.{source.number(index):06d}.png"


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
    """Every file a swap of `source` to `output` writes (frames, mattes, the manifest) or removes (a previous
    render's frames in a folder it replaces), for checks before any work; a folder holding anything else is
    refused."""
    folder = sequence_folder(output)
    if folder is None:
        files = [output]
    else:
        files = _with_replaced([frame_path(output, source, index) for index in range(source.frames)], folder,
                               IMAGE_EXTENSIONS)
    if write_matte:
        files += _with_replaced(_mattes(output, source), matte_folder(output), MATTE_SUFFIXES)
    return files + [manifest_path(output)]


def _check_frames_fit(output: Path, source: Source, matte_channel: str | None, codec: str) -> None:
    """Refuse, before any work, an image output whose format cannot hold the plate's pixels (a float EXR into
    PNG, a 10-bit video into JPEG), a multi-part plate (fusion writes one part), a `matte_channel` it cannot
    take, and a `codec` other than auto for anything but a video."""
    if output.suffix.lower() in VIDEO_EXTENSIONS:
        return
    if codec != "auto":
        raise ConfigError(f"codec={codec}: {output} is not a video; codec= chooses a video's codec "
                          f"({', '.join(VIDEO_EXTENSIONS)})")
    header = read_header(source.images[0]) if source.images else None
    if header is not None and header.parts > 1:
        raise ConfigError(f"{source.images[0]} has {header.parts} parts; fusion writes only the first, which would "
                          "drop the others: write a video, or export the plate's parts as files of their own")
    into = format_of(output) if sequence_folder(output) is None or FramePattern.parse(output) else None
    own = header.format if header is not None else "png"
    if into is not None and into != own:
        stored = header.pixel_type if header is not None else source.video.pixel_type if source.video else "uint8"
        output_type(stored, into, output)
    if matte_channel is not None:
        if (into or own) != "openexr":
            raise ConfigError(f"matte_channel={matte_channel}: a matte channel goes into an EXR, but {output} is "
                              f"written as {into or own}; write .exr, or use write_matte=true")
        if header is not None and matte_channel in header.channels:
            raise ConfigError(f"matte_channel={matte_channel}: the plate {source.images[0]} already has that channel; "
                              "choose another name")


class FrameWriter:
    """Context manager taking frames in order. Video is written in `codec` (auto: by its name and the
    frames' depth, `fusion.io.video`) at `fps`, from the plate's timecode, RGB or RGBA; images are written
    like their plate's files, with `matte_channel` the matte as one more channel. A sequence's folder and
    the matte folder are staged whole (`StagedOutputs.folder`)."""

    def __init__(self, output: Path, source: Source, staged: StagedOutputs, write_matte: bool = False,
                 fps: float | Fraction = 24.0, matte_channel: str | None = None, codec: str = "auto",
                 resume: str | None = None):
        self.output, self.source, self.write_matte, self.staged = output, source, write_matte, staged
        self.matte_channel = matte_channel
        self.count = 0
        self.bytes = 0
        self._counting = threading.Lock()
        self.folder = sequence_folder(output)
        if self.folder is not None:
            staged.folder(self.folder, IMAGE_EXTENSIONS, resume)
        if write_matte:
            staged.folder(matte_folder(output), MATTE_SUFFIXES, resume if self.folder is not None else None)
        video = source.video
        timecode = video.timecode_at(source.number(0)) if video is not None else None
        self._video = (VideoWriter(output, fps, codec, timecode, video, staged=staged, frames=source.frames)
                       if output.suffix.lower() in VIDEO_EXTENSIONS else None)

    @property
    def codec(self) -> str | None:
        """The video codec written (chosen at the first frame); None for images."""
        return self._video.codec if self._video is not None else None

    def __enter__(self) -> "FrameWriter":
        return self

    def done(self, index: int) -> bool:
        """Whether frame `index` (and its matte) is already staged: finished by a killed run this one resumes."""
        if self.folder is None:
            return False
        paths = [frame_path(self.output, self.source, index)]
        if self.write_matte:
            paths.append(matte_path(self.output, self.source, index))
        return all(self.staged.holds(path) for path in paths)

    def _stage(self, path: Path, write) -> None:
        """`write(staged path)` for the file that becomes `path` (writers write whole files or none:
        `atomic_path`); a full disk says what the rest needs."""
        staged = self.staged.path(path)
        try:
            write(staged)
        except DiskFullError as error:
            with self._counting:
                remaining = self.source.frames - self.count
                needed = self.bytes // self.count * remaining if self.count else None
            raise disk_full(path.parent, needed) from error
        size = staged.stat().st_size
        with self._counting:
            self.bytes += size

    def write(self, index: int, frame: Frame, matte: np.ndarray) -> None:
        """Stage the swapped frame `index` (the next, for a video) in the output's format (and, with
        `write_matte`, its matte as a 16-bit PNG); a full disk is reported with the space the rest needs.
        Image frames may be written by several threads at once, each its own files; a video's in order.
        """
        if self._video is not None:
            self._video.write(frame.pixels if frame.channels in VIDEO_CHANNELS else frame.rgb)
        else:
            if self.matte_channel is not None:
                frame = frame.with_channel(self.matte_channel, matte)
            path = self.output if self.folder is None else frame_path(self.output, self.source, index)
            self._stage(path, lambda staged: write_frame(staged, frame))
        if self.write_matte:
            matte16 = (np.clip(matte, 0, 1) * 65535 + 0.5).astype(np.uint16)
            self._stage(matte_path(self.output, self.source, index), lambda staged: write_image(staged, matte16))
        with self._counting:
            self.count += 1

    def __exit__(self, *exc) -> None:
        if self._video is not None:
            self._video.__exit__(*exc)


def check_swap_outputs(output: Path, source: Source, checkpoint: str | Path, options: SwapOptions) -> None:
    """Refuse, before any work, an output that is neither a video, an image, a numbered sequence nor a folder,
    one whose format cannot hold the plate (`_check_frames_fit`), and outputs that `check_outputs` refuses
    (existing without `overwrite`, or among the swap's inputs)."""
    suffix = output.suffix.lower()
    kinds = IMAGE_EXTENSIONS if FramePattern.parse(output) else VIDEO_EXTENSIONS + IMAGE_EXTENSIONS + ("",)
    if suffix not in kinds:
        raise ConfigError(f"output={output}: write to a video ({', '.join(VIDEO_EXTENSIONS)}), an image, a numbered "
                          "sequence (out/shot.####.exr) or a folder")
    if suffix in VIDEO_EXTENSIONS:
        check_codec(options.codec, output)
    _check_frames_fit(output, source, options.matte_channel, options.codec)
    outputs = output_files(output, source, options.write_matte) + ([preview_path(output)] if options.preview else [])
    inputs = [source.path, Path(checkpoint)] + ([Path(options.tuning)] if options.tuning else [])
    check_outputs(outputs, inputs, options.overwrite)


class SwapOutputs:
    """The swap's write stage, a context manager: each swapped frame (and its matte with `write_matte`) through
    a `FrameWriter`, beside it the side-by-side preview with `preview`, at `options.fps` (None: the plate's
    frame rate, 24 for images), and at the end the manifest (`write_manifest`). All are staged together and
    moved into place only when the whole render succeeded. Frames are written behind the compute, so encoding
    overlaps the next frames' work: image files by a thread per core, each frame its own files, a video (or a
    render with a preview, a video too) in order by one thread; at most one frame more than the writing threads
    waits. A write's error is raised at the next `write`, or at the manifest, before anything is moved into place.

    With `resume` (a key naming the render: `fusion.swap.manifest.RenderInputs.key`), a sequence render without a
    preview takes over the frames a killed run of the same render finished (`done`)."""

    def __init__(self, output: Path, source: Source, options: SwapOptions, resume: str | None = None):
        self.output, self.source, self.options = output, source, options
        self.resume = resume if not options.preview else None
        self.fps = as_rate(options.fps) if options.fps else source.video.rate if source.video else Fraction(24)
        self._stack = ExitStack()
        self._staged: StagedOutputs | None = None
        self.frames: FrameWriter | None = None
        self.preview: PreviewWriter | None = None
        in_order = output.suffix.lower() in VIDEO_EXTENSIONS or options.preview
        self.writers = 1 if in_order else usable_cores()
        self._writer = ThreadPoolExecutor(self.writers, thread_name_prefix="fusion-write")
        self._pending: deque[Future] = deque()

    def __enter__(self) -> "SwapOutputs":
        with ExitStack() as stack:
            self._staged = stack.enter_context(StagedOutputs())
            self.frames = stack.enter_context(FrameWriter(self.output, self.source, self._staged,
                                                          self.options.write_matte, self.fps,
                                                          self.options.matte_channel, self.options.codec,
                                                          self.resume))
            if self.options.preview:
                self.preview = stack.enter_context(PreviewWriter(preview_path(self.output),
                                                                 self.options.preview_height, self.fps, self._staged))
            self._stack = stack.pop_all()
        return self

    def done(self, frame: PlateFrame) -> bool:
        """Whether `frame` was finished by the killed run this render resumes (then it is not swapped again)."""
        return self.resume is not None and self.frames.done(frame.index)

    def write(self, frame: PlateFrame, swapped: np.ndarray, matte: np.ndarray) -> None:
        """Stage `frame` with its color `swapped` (every other channel and its header as read) and its `matte`,
        and its plate | swapped in the preview, behind the compute (the class docstring)."""
        self._settle(self.writers)
        self._pending.append(self._writer.submit(self._write_now, frame, swapped, matte))

    def _settle(self, pending: int) -> None:
        """Wait until at most `pending` writes are left, raising the first one's error."""
        while len(self._pending) > pending:
            self._pending.popleft().result()

    def _write_now(self, frame: PlateFrame, swapped: np.ndarray, matte: np.ndarray) -> None:
        stored = frame.stored if frame.stored is not None else Frame(frame.index, frame.plate)
        self.frames.write(frame.index, stored.with_rgb(swapped), matte)
        if self.preview is not None:
            self.preview.write_pair(frame.plate, swapped)

    def write_manifest(self, manifest: dict) -> Path:
        """Stage the render's manifest (`manifest_path`), to be put in place with its frames; returns its path."""
        self._settle(0)
        path = manifest_path(self.output)
        write_bytes(self._staged.path(path), json.dumps(manifest, indent=1, default=str).encode())
        return path

    def __exit__(self, *exc) -> bool | None:
        if exc[0] is None:
            try:
                self._settle(0)
            except BaseException as error:
                self._close((type(error), error, error.__traceback__))
                raise
        return self._close(exc)

    def _close(self, exc: tuple) -> bool | None:
        """Stop the writing thread (after the write it is in), then move the staged outputs into place, or after
        an error `exc` drop them."""
        self._writer.shutdown(wait=True, cancel_futures=True)
        return self._stack.__exit__(*exc)
