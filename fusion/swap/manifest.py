"""The manifest beside every render (`<output>.json`): how it was made, to trace it and to make it again.

It names the checkpoint with its SHA-256 and the shot tuning with its own; the learned matte's and the
color network's training where the render used them; every option as resolved, the device and the
precision that actually ran among them; the versions of the packages that ran; the plate (its frame
numbers and its first frame's header); the frames swapped and those without a face, by frame number; and
the seconds per stage.
"""

import platform
import time
from dataclasses import fields
from fractions import Fraction
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import av
import cv2
import numpy as np
import OpenImageIO as oiio
import torch

from fusion.io.digest import file_sha256
from fusion.io.footage import Source
from fusion.io.plate import read_header
from fusion.swap.loader import SwapModel
from fusion.swap.options import SwapOptions

if TYPE_CHECKING:
    from fusion.swap.pipeline import SwapReport

#: The manifest's layout; raised when a key changes meaning.
MANIFEST_FORMAT = 1


def package_versions() -> dict[str, str | None]:
    """The versions of what a render ran on (None for fusion run from a checkout it was not installed from)."""
    try:
        fusion = metadata.version("fusion")
    except metadata.PackageNotFoundError:
        fusion = None
    return {"fusion": fusion, "python": platform.python_version(), "torch": torch.__version__,
            "OpenImageIO": oiio.VERSION_STRING, "av": av.__version__, "numpy": np.__version__,
            "opencv": cv2.__version__}


def resolved_options(options: SwapOptions, model: SwapModel, fps: Fraction, codec: str | None = None) -> dict:
    """Every swap option as the render used it: `auto` and null resolved where the render resolves them once
    (device, precision, the face tracking the checkpoint's crops were made with, the frame rate as a fraction,
    a video's codec)."""
    resolved = {option.name: getattr(options, option.name) for option in fields(SwapOptions)}
    crop = model.crop
    resolved.update(device=str(next(model.net.parameters()).device), precision=model.precision, fps=str(fps),
                    landmarks=options.landmarks or crop.landmarks, jitter=options.jitter or crop.jitter,
                    smooth_window=options.smooth_window or crop.smooth_window)
    if codec is not None:
        resolved["codec"] = codec
    return resolved


def _file(path: str | Path | None) -> dict | None:
    return None if path is None else {"path": str(Path(path).absolute()), "sha256": file_sha256(path)}


def render_manifest(source: Source, checkpoint: str | Path, identity: str, options: SwapOptions,
                    model: SwapModel, report: "SwapReport", fps: Fraction, codec: str | None = None) -> dict:
    """The manifest of a finished render of `source` with `identity` from `checkpoint` (see the module)."""
    numbers = [source.number(index) for index in range(source.frames)]
    matte = model.trained.get("matte") if options.matte == "learned" else None
    color = model.trained.get("color") if options.color == "lut" else None
    header = read_header(source.images[0]).describe() if source.images else source.video.describe()
    return {
        "manifest_format": MANIFEST_FORMAT,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "identity": identity,
        "checkpoint": _file(checkpoint),
        "tuning": _file(options.tuning),
        "matte": {"kind": options.matte, "training": matte},
        "color": {"kind": options.color, "training": color},
        "options": resolved_options(options, model, fps, codec),
        "versions": package_versions(),
        "plate": {"path": str(Path(source.path).absolute()), "name": source.name, "header": header},
        "frames": {"first": numbers[0], "last": numbers[-1], "count": report.frames, "swapped": report.swapped,
                   "no_face": [source.number(index) for index in report.no_face]},
        "seconds": report.seconds,
        "frames_per_second": round(report.frames_per_second, 3),
        "warnings": report.warnings,
    }
