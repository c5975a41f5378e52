"""Writing swapped frames: a video, an image sequence in the input's format and
bit depth, or a single image; optionally the face matte beside them.

Every file is staged and moved into place only when the whole render (and
whatever else shares its StagedOutputs, such as the preview) succeeded: a
swap that fails on frame 900 of 1000 leaves the previous render intact.
"""

from pathlib import Path

import numpy as np

from fusion.errors import DiskFullError
from fusion.io.atomic import StagedOutputs, disk_full
from fusion.io.footage import VIDEO_EXTENSIONS, Source
from fusion.io.image import write_image
from fusion.io.video import VideoWriter


def matte_path(output: Path, index: int) -> Path:
    """Where `write_matte=true` puts frame `index`'s matte: beside the output, `<name>_matte/matte.<index>.png`."""
    return output.with_name(output.stem + "_matte") / f"matte.{index:06d}.png"


def output_files(output: Path, source: Source, write_matte: bool) -> list[Path]:
    """Every file a swap of `source` to `output` writes (frames, mattes), for checks before any work."""
    if output.suffix:
        files = [output]
    else:
        files = [frame_path(output, source, index) for index in range(source.frames)]
    if write_matte:
        files += [matte_path(output, index) for index in range(source.frames)]
    return files


def frame_path(folder: Path, source: Source, index: int) -> Path:
    """A sequence output's frame: the input image's own name, or `<video stem>.<index>.png`."""
    if source.images:
        return folder / source.images[index].name
    return folder / f"{source.path.stem}.{index:06d}.png"


class FrameWriter:
    """Context manager taking frames in order. Video goes through ffmpeg
    (H.264, 8-bit) at the plate's frame rate; images keep their dtype."""

    def __init__(self, output: Path, source: Source, staged: StagedOutputs, write_matte: bool = False,
                 fps: float = 24.0):
        self.output, self.source, self.write_matte, self.staged = output, source, write_matte, staged
        self.count = 0
        self.bytes = 0
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
            self._image(matte_path(self.output, self.count), (np.clip(matte, 0, 1) * 65535 + 0.5).astype(np.uint16))
        self.count += 1

    def __exit__(self, *exc) -> None:
        if self._video is not None:
            self._video.__exit__(*exc)
