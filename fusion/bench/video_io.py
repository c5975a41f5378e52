"""`python -m fusion.bench video-io`: a 1920x1080 10-bit ProRes 422 HQ clip, made from a real photo, decoded by
the old reader (OpenCV, 8-bit) and by PyAV (`fusion.io.footage.read_frames`, 16-bit), and written by the old
writer (imageio-ffmpeg's ffmpeg, 8-bit H.264 over a pipe) and by `fusion.io.video.VideoWriter` (ProRes 422 HQ
like the clip, and H.264); frames per second each way, the fastest of `--repeats`.
"""

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from fusion.io.footage import read_frames, source_from_path
from fusion.io.image import to_uint8
from fusion.io.video import VideoWriter


def make_frames(width: int, height: int, count: int) -> list[np.ndarray]:
    """scikit-image's astronaut upscaled to `width` x `height` as 10-bit codes in 16 bits, moving 8 px a frame."""
    photo = cv2.resize(data.astronaut(), (width, height), interpolation=cv2.INTER_CUBIC).astype(np.uint16)
    codes = photo * 3 + 40
    deep = codes << 6 | codes >> 4
    return [np.roll(deep, 8 * index, axis=1) for index in range(count)]


def old_decode(path: Path) -> int:
    """The old reader: OpenCV, 8-bit BGR turned RGB."""
    capture, count = cv2.VideoCapture(str(path)), 0
    while (frame := capture.read())[0]:
        cv2.cvtColor(frame[1], cv2.COLOR_BGR2RGB)
        count += 1
    capture.release()
    return count


def new_decode(path: Path) -> int:
    source = source_from_path(path)
    return sum(1 for _ in read_frames(source, 0, source.frames))


def old_encode(path: Path, frames: list[np.ndarray], fps: float) -> None:
    """The old writer: 8-bit RGB piped into imageio-ffmpeg's ffmpeg, H.264 at crf 10 (quality 8), 4:2:0."""
    import imageio_ffmpeg

    height, width = frames[0].shape[:2]
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{width}x{height}", "-r", f"{fps:.6g}", "-i", "-", "-an", "-c:v", "libx264",
               "-pix_fmt", "yuv420p", "-crf", "10", "-f", "mp4", str(path)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE)
    for frame in frames:
        process.stdin.write(np.ascontiguousarray(to_uint8(frame)).tobytes())
    process.stdin.close()
    assert process.wait() == 0


def new_encode(path: Path, frames: list[np.ndarray], codec: str, like=None) -> None:
    with VideoWriter(path, like.rate if like else 24, codec, like=like) as video:
        for frame in frames:
            video.write(frame)


def _per_second(run, frames: int, repeats: int) -> float:
    """Frames per second of the fastest of `repeats` runs of `run()` (the least disturbed by other work)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return round(frames / min(times), 2)


def main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m fusion.bench video-io")
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    frames = make_frames(args.width, args.height, args.frames)
    with tempfile.TemporaryDirectory() as folder:
        clip = Path(folder) / "plate.mov"
        new_encode(clip, frames, "prores_422hq")
        like = source_from_path(clip).video
        count = args.frames
        result = {
            "clip": f"{args.width}x{args.height} {like.pix_fmt} ProRes 422 HQ, {count} frames, "
                    f"{clip.stat().st_size / 1e6:.1f} MB",
            "decode_frames_per_second": {
                "old (OpenCV, 8-bit)": _per_second(lambda: old_decode(clip), count, args.repeats),
                "new (PyAV, 16-bit)": _per_second(lambda: new_decode(clip), count, args.repeats)},
            "encode_frames_per_second": {
                "old (ffmpeg pipe, H.264 8-bit)": _per_second(
                    lambda: old_encode(Path(folder) / "old.mp4", frames, 24), count, args.repeats),
                "new (.mov, ProRes 422 HQ 10-bit)": _per_second(
                    lambda: new_encode(Path(folder) / "new.mov", frames, "auto", like), count, args.repeats),
                "new (.mp4 codec=h264, 8-bit)": _per_second(
                    lambda: new_encode(Path(folder) / "new.mp4", frames, "h264", like), count, args.repeats)},
        }
        result["bits_decoded"] = {"old": 8, "new": like.bits}
    return result
