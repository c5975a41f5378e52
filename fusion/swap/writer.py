"""Writing swapped frames: a video, an image sequence in the input's format and
bit depth, or a single image; optionally the face matte beside them.

Every file is staged and moved into place only when the whole render (and
whatever else shares its StagedOutputs, such as the preview) succeeded: a
swap that fails on frame 900 of 1000 leaves the previous render intact. A
sequence and the matte folder are each replaced whole, so after a render they
hold exactly its frames, named after the plate's: a render shorter than the
last leaves none of the last one's frames behind.
"""

from pathlib import Path

import numpy as np

from fusion.errors import DiskFullError, OutputError
from fusion.io.atomic import StagedOutputs, disk_full
from fusion.io.footage import VIDEO_EXTENSIONS, Source
from fusion.io.image import IMAGE_EXTENSIONS, write_image
from fusion.io.outputs import replaced_files
from fusion.io.video import VideoWriter

#: What a matte folder holds: 16-bit PNGs.
MATTE_SUFFIXES = (".png",)


def matte_folder(output: Path) -> Path:
    """Where `write_matte=true` puts the mattes: beside the output, `<name>_matte/`."""
    return output.with_name(output.stem + "_matte")


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
