"""Writing swapped frames: a video, an image sequence in the input's format and
bit depth, or a single image; optionally the face matte beside them."""

from pathlib import Path

import numpy as np

from fusion.io.footage import VIDEO_EXTENSIONS, Source
from fusion.io.image import write_image
from fusion.io.video import VideoWriter


class FrameWriter:
    """Context manager taking frames in order. Video goes through ffmpeg
    (H.264, 8-bit) at the plate's frame rate; images keep their dtype."""

    def __init__(self, output: Path, source: Source, write_matte: bool = False, fps: float = 24.0):
        self.output, self.source, self.write_matte = output, source, write_matte
        self.count = 0
        self._video = VideoWriter(output, fps) if output.suffix.lower() in VIDEO_EXTENSIONS else None

    def __enter__(self) -> "FrameWriter":
        return self

    def _frame_path(self, folder: Path) -> Path:
        if self.source.images:
            original = self.source.images[self.count]
            return folder / original.name
        return folder / f"{self.source.path.stem}.{self.count:06d}.png"

    def write(self, frame: np.ndarray, matte: np.ndarray) -> None:
        if self._video is not None:
            self._video.write(frame)
        elif self.output.suffix:
            write_image(self.output, frame)
        else:
            write_image(self._frame_path(self.output), frame)
        if self.write_matte:
            folder = self.output.with_name(self.output.stem + "_matte")
            write_image(folder / f"matte.{self.count:06d}.png", (np.clip(matte, 0, 1) * 65535 + 0.5).astype(np.uint16))
        self.count += 1

    def __exit__(self, *exc) -> None:
        if self._video is not None:
            self._video.__exit__(*exc)
