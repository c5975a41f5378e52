"""`python -m fusion.bench plate-io`: a 4K half PIZ EXR plate, made from a real photo, written back by the old
writer (`fusion.io.image.write_image`: float32, ZIP) and by the plate writer (`fusion.io.plate.write_frame`: like
its input); bytes in and out, and seconds to read and to write each way; and the same photo as a 16-bit PNG,
read by OpenCV (the old reader) and by OpenImageIO.
"""

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import OpenImageIO as oiio
from skimage import data

from fusion.io.image import read_image, srgb_decode, write_image
from fusion.io.plate import read_frame, write_frame


def make_plate(path: Path, width: int, height: int) -> Path:
    """scikit-image's astronaut upscaled to `width` x `height`, scene-linear, half, PIZ: a facility's EXR."""
    photo = cv2.resize(data.astronaut(), (width, height), interpolation=cv2.INTER_CUBIC)
    linear = srgb_decode(photo.astype(np.float32) / 255).astype(np.float16)
    spec = oiio.ImageSpec(width, height, 3, "half")
    spec.attribute("compression", "piz")
    output = oiio.ImageOutput.create(str(path))
    assert output.open(str(path), spec) and output.write_image(linear) and output.close(), output.geterror()
    return path


def _seconds(run, repeats: int) -> float:
    """The fastest of `repeats` runs of `run()`, in seconds (the least disturbed by other work on the machine)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return round(min(times), 3)


def main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m fusion.bench plate-io")
    parser.add_argument("--width", type=int, default=3840)
    parser.add_argument("--height", type=int, default=2160)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        plate = make_plate(Path(folder) / "plate.1001.exr", args.width, args.height)
        old, new = Path(folder) / "old.exr", Path(folder) / "new.exr"
        frame = read_frame(plate)
        rgb = read_image(plate)
        result = {
            "plate": f"{args.width}x{args.height} half PIZ",
            "bytes": {"input": plate.stat().st_size},
            "read_seconds": {"old": _seconds(lambda: read_image(plate), args.repeats),
                             "new": _seconds(lambda: read_frame(plate), args.repeats)},
            "write_seconds": {"old": _seconds(lambda: write_image(old, rgb), args.repeats),
                              "new": _seconds(lambda: write_frame(new, frame), args.repeats)},
        }
        result["bytes"].update(old=old.stat().st_size, new=new.stat().st_size)
        png = Path(folder) / "plate.png"
        write_image(png, (np.clip(rgb, 0, 1) * 65535 + 0.5).astype(np.uint16))
        result["png16_read_seconds"] = {"old": _seconds(lambda: read_image(png), args.repeats),
                                        "new": _seconds(lambda: read_frame(png), args.repeats)}
        result["output_over_input"] = {name: round(result["bytes"][name] / result["bytes"]["input"], 3)
                                       for name in ("old", "new")}
        result["new_equals_input"] = bool(np.array_equal(read_frame(new).pixels, frame.pixels))
    return result
