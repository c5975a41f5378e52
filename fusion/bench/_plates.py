"""Plates for the benchmarks: a plate's last frames degraded on purpose (`fusion.eval.degrade`), as PNGs, and a
4K close-up shot in the formats a facility hands over."""

import argparse
from pathlib import Path

import cv2
import numpy as np
import OpenImageIO as oiio
import torch
from skimage.data import astronaut

from fusion.bench._shared_clips import SHARED_CLIPS
from fusion.eval.degrade import degrade
from fusion.io.footage import read_frames, source_from_path
from fusion.io.image import decode, srgb_decode, to_uint8, write_image
from fusion.io.video import VideoWriter

#: 4K UHD, (width, height).
UHD = (3840, 2160)


def degraded(frame: np.ndarray, grade: str = "none", blur: float = 0.0, jpeg: int = 0) -> np.ndarray:
    """An (H, W, 3) uint8 frame graded (`none` | `warm`), blurred by `blur` px and JPEG-compressed at `jpeg` (0: not)."""
    image = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255
    return decode(degrade(image, grade, blur, jpeg)[0].permute(1, 2, 0).numpy(), np.uint8)


def write_last_frames(plate: Path, folder: Path, count: int, grade: str = "none", blur: float = 0.0,
                      jpeg: int = 0) -> None:
    """Write the plate's last `count` frames, `degraded`, as `folder/frame.NNNN.png`."""
    source = source_from_path(plate)
    for index, frame in read_frames(source, source.frames - count, source.frames):
        write_image(folder / f"frame.{index:04d}.png", degraded(to_uint8(frame.rgb), grade, blur, jpeg))


def add_plate_arguments(parser: argparse.ArgumentParser, checkpoint_help: str | None = None) -> None:
    """The options of a bench that swaps a degraded plate: the checkpoint, whose face, the plate and how many of
    its last frames, the degradation (blur px, JPEG quality), the output folder and the device."""
    parser.add_argument("--checkpoint", type=Path, required=True, help=checkpoint_help)
    parser.add_argument("--identity", required=True, help="whose face to swap into the plate")
    parser.add_argument("--plate", type=Path, default=SHARED_CLIPS / "d3.mp4")
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--blur", type=float, default=1.5)
    parser.add_argument("--jpeg", type=int, default=30)
    parser.add_argument("--out", type=Path, required=True, help="folder for the contact sheets")
    parser.add_argument("--device", default="cpu")


def close_up(frame: int) -> np.ndarray:
    """(2160, 3840, 3) float32 in [0, 1], display-referred: scikit-image's astronaut, her face upscaled to ~1300 px
    across (the size of a 4K close-up), moved 4 px right per `frame` so that no two frames are alike."""
    face = astronaut()[50:216, 80:375].astype(np.float32) / 255
    shift = np.float64([[1, 0, 4 * frame], [0, 1, 0]]) @ np.diag([UHD[0] / face.shape[1], UHD[1] / face.shape[0], 1])
    image = cv2.warpAffine(face, shift, UHD, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    return np.clip(image, 0, 1)


def write_4k_plates(folder: Path, frames: int) -> dict[str, Path]:
    """The `close_up` shot of `frames` frames four ways: a 16-bit PNG sequence, a scene-linear half-float PIZ EXR
    sequence (issue 28's plate), a 10-bit DPX sequence and an H.264 MP4, under `folder`;
    {"png16": folder, "exr": folder, "dpx": folder, "mp4": file}."""
    plates = {"png16": folder / "png16", "exr": folder / "exr", "dpx": folder / "dpx", "mp4": folder / "plate.mp4"}
    for name in ("png16", "exr", "dpx"):
        plates[name].mkdir(parents=True)
    with VideoWriter(plates["mp4"], fps=24) as video:
        for index in range(frames):
            image = close_up(index)
            write_image(plates["png16"] / f"plate.{index:04d}.png", decode(image, np.uint16))
            _write_oiio(plates["exr"] / f"plate.{index:04d}.exr", srgb_decode(image).astype(np.float16), "half",
                        compression="piz")
            _write_oiio(plates["dpx"] / f"plate.{index:04d}.dpx", decode(image, np.uint16), "uint16",
                        **{"oiio:BitsPerSample": 10})
            video.write(decode(image, np.uint8))
    return plates


def _write_oiio(path: Path, pixels: np.ndarray, pixel_type: str, **attributes) -> None:
    """(H, W, 3) `pixels` stored as `pixel_type` with header `attributes`, as a facility's plate comes."""
    spec = oiio.ImageSpec(pixels.shape[1], pixels.shape[0], 3, pixel_type)
    for name, value in attributes.items():
        spec.attribute(name, value)
    output = oiio.ImageOutput.create(str(path))
    if output is None or not (output.open(str(path), spec) and output.write_image(pixels) and output.close()):
        raise OSError(f"{path}: {(output or oiio).geterror()}")
