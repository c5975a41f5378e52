"""Writing H.264 video through imageio-ffmpeg's bundled ffmpeg, atomically and checked.

Frames stream into an ffmpeg process writing a staged file; the file takes
the output's name only after ffmpeg exited with status 0. imageio-ffmpeg's
own `write_frames` neither checks that status nor keeps ffmpeg's messages,
so a full disk there would rename a truncated mp4 over a good render: this
writer runs the same binary itself and turns a failure into WriteError or
DiskFullError, leaving any previous output as it was.
"""

import subprocess
import tempfile
from pathlib import Path

import cv2
import numpy as np

from fusion.errors import WriteError
from fusion.io.atomic import NO_SPACE, StagedOutputs, disk_full
from fusion.io.image import to_uint8


def frame_rate(path: Path, default: float = 24.0) -> float:
    """A video's frame rate as its container states it, else `default` (image sequences, odd files)."""
    capture = cv2.VideoCapture(str(path))
    rate = capture.get(cv2.CAP_PROP_FPS) if capture.isOpened() else 0.0
    capture.release()
    return float(rate) if rate and 1 <= rate <= 1000 else default


class VideoWriter:
    """Context manager taking (H, W, 3) frames of any dtype (written as 8-bit).

    With `staged`, the finished file is moved into place by that
    StagedOutputs' commit (together with the files written beside it);
    without, on a clean exit. `frames`, the number expected, sizes the
    space a full disk is said to need.

    >>> path = Path(tempfile.mkdtemp()) / "grey.mp4"
    >>> with VideoWriter(path, fps=25) as video:
    ...     for _ in range(3):
    ...         video.write(np.full((32, 48, 3), 128, np.uint8))
    >>> capture = cv2.VideoCapture(str(path))
    >>> int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), capture.get(cv2.CAP_PROP_FPS), capture.read()[1].shape
    (3, 25.0, (32, 48, 3))
    """

    def __init__(self, path: Path, fps: float = 24.0, quality: float = 8, staged: StagedOutputs | None = None,
                 frames: int | None = None):
        self.path, self.fps, self.quality, self.frames = Path(path), fps, quality, frames
        self._own = staged is None
        self._staged = staged or StagedOutputs()
        self._process: subprocess.Popen | None = None
        self._log = None
        self._file: Path | None = None
        self.written = 0

    def __enter__(self) -> "VideoWriter":
        return self

    def _command(self, width: int, height: int) -> list[str]:
        import imageio_ffmpeg

        crf = int((1 - self.quality / 10) * 51)
        # 4:2:0 needs even sizes; an odd-sized plate keeps its size in 4:4:4 rather than being padded or cropped.
        chroma = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
        return [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
                "-s", f"{width}x{height}", "-r", f"{self.fps:.6g}", "-i", "-", "-an", "-c:v", "libx264",
                "-pix_fmt", chroma, "-crf", str(crf), "-f", "mp4", str(self._file)]

    def _start(self, frame: np.ndarray) -> None:
        self._file = self._staged.path(self.path)
        self._log = tempfile.TemporaryFile()
        self._process = subprocess.Popen(self._command(frame.shape[1], frame.shape[0]), stdin=subprocess.PIPE,
                                         stdout=subprocess.DEVNULL, stderr=self._log)

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) frame as 8-bit, starting ffmpeg at the first; raises a WriteError naming the
        file if ffmpeg stops taking frames, so a failed encode never passes silently.
        """
        if self._process is None:
            self._start(frame)
        try:
            self._process.stdin.write(np.ascontiguousarray(to_uint8(frame)).tobytes())
        except (BrokenPipeError, OSError):
            self._finish()  # ffmpeg died: raises with its own words
            raise WriteError(f"{self.path}: ffmpeg stopped taking frames")
        self.written += 1

    def _messages(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace").strip()

    def _finish(self) -> None:
        """Close ffmpeg's input, wait for it, and raise if it failed."""
        try:
            self._process.stdin.close()
        except OSError:
            pass
        status = self._process.wait()
        messages = self._messages()
        if status == 0:
            return
        if NO_SPACE in messages:
            # What filled the disk held only part of the frames sent: the video needs more than it.
            size = self._file.stat().st_size if self._file.exists() else 0
            raise disk_full(self.path, max(size, size * (self.frames or 0) // max(self.written, 1)), at_least=True)
        last = messages.splitlines()[-1] if messages else "no message"
        raise WriteError(f"{self.path}: ffmpeg failed with status {status} ({last}); nothing was replaced")

    def __exit__(self, kind, error, trace) -> None:
        try:
            if self._process is not None:
                if kind is None:
                    self._finish()
                else:
                    self._process.kill()
                    self._process.wait()
        except BaseException:
            if self._own:
                self._staged.discard()
            raise
        finally:
            if self._log is not None:
                self._log.close()
        if self._own:
            self._staged.__exit__(kind, error, trace)
