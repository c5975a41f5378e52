"""Writing swapped frames: a video, an image sequence in the input's format and
bit depth, or a single image; optionally the face matte beside them."""

from pathlib import Path

import numpy as np

from fusion.io.footage import VIDEO_EXTENSIONS, Source
from fusion.io.image import to_uint8, write_image


class FrameWriter:
    """Context manager taking frames in order. Video goes through ffmpeg
    (imageio-ffmpeg's bundled binary, H.264); images keep their dtype."""

    def __init__(self, output: Path, source: Source, write_matte: bool = False, fps: float = 24.0):
        self.output, self.source, self.write_matte, self.fps = output, source, write_matte, fps
        self.count = 0
        self._video = None

    def __enter__(self) -> "FrameWriter":
        return self

    def _frame_path(self, folder: Path) -> Path:
        if self.source.images:
            original = self.source.images[self.count]
            return folder / original.name
        return folder / f"{self.source.path.stem}.{self.count:06d}.png"

    def write(self, frame: np.ndarray, matte: np.ndarray) -> None:
        suffix = self.output.suffix.lower()
        if suffix in VIDEO_EXTENSIONS:
            if self._video is None:
                import imageio_ffmpeg

                self.output.parent.mkdir(parents=True, exist_ok=True)
                self._video = imageio_ffmpeg.write_frames(str(self.output), (frame.shape[1], frame.shape[0]),
                                                          fps=self.fps, codec="libx264", quality=8, macro_block_size=1)
                self._video.send(None)
            self._video.send(np.ascontiguousarray(to_uint8(frame)))
        elif suffix:
            write_image(self.output, frame)
        else:
            write_image(self._frame_path(self.output), frame)
        if self.write_matte:
            folder = self.output.with_name(self.output.stem + "_matte")
            write_image(folder / f"matte.{self.count:06d}.png", (np.clip(matte, 0, 1) * 65535 + 0.5).astype(np.uint16))
        self.count += 1

    def __exit__(self, *exc) -> None:
        if self._video is not None:
            self._video.close()
