"""Writing H.264 video through imageio-ffmpeg's bundled ffmpeg, atomically.

Frames stream to a temporary file beside the output, renamed into place when
the writer closes without an error: an interrupted swap leaves no truncated
mp4 under the name a compositor would pick up.
"""

import contextlib
from pathlib import Path

import cv2
import numpy as np

from fusion.io.atomic import atomic_path
from fusion.io.image import to_uint8


def frame_rate(path: Path, default: float = 24.0) -> float:
    """A video's frame rate as its container states it, else `default` (image sequences, odd files)."""
    capture = cv2.VideoCapture(str(path))
    rate = capture.get(cv2.CAP_PROP_FPS) if capture.isOpened() else 0.0
    capture.release()
    return float(rate) if rate and 1 <= rate <= 1000 else default


class VideoWriter:
    """Context manager taking (H, W, 3) frames of any dtype (written as 8-bit).

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "grey.mp4"
    >>> with VideoWriter(path, fps=25) as video:
    ...     for _ in range(3):
    ...         video.write(np.full((32, 48, 3), 128, np.uint8))
    >>> capture = cv2.VideoCapture(str(path))
    >>> int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), capture.get(cv2.CAP_PROP_FPS), capture.read()[1].shape
    (3, 25.0, (32, 48, 3))
    """

    def __init__(self, path: Path, fps: float = 24.0, quality: float = 8):
        self.path, self.fps, self.quality = Path(path), fps, quality
        self._stack = contextlib.ExitStack()
        self._video = None

    def __enter__(self) -> "VideoWriter":
        return self

    def write(self, frame: np.ndarray) -> None:
        if self._video is None:
            import imageio_ffmpeg

            temporary = self._stack.enter_context(atomic_path(self.path))
            self._video = imageio_ffmpeg.write_frames(str(temporary), (frame.shape[1], frame.shape[0]), fps=self.fps,
                                                      codec="libx264", quality=self.quality, macro_block_size=1)
            self._video.send(None)
        self._video.send(np.ascontiguousarray(to_uint8(frame)))

    def __exit__(self, *exc) -> None:
        if self._video is not None:
            self._video.close()
        self._stack.__exit__(*exc)
