"""The manifest beside every render (`<output>.json`): how it was made, to trace it and to make it again.

It names the checkpoint with its SHA-256 and the shot tuning with its own; the learned matte's and the
color network's training where the render used them; the plate's colorspace, the working space and the
OCIO config where color went through OCIO; every option as resolved, the device and the
precision that actually ran among them; the versions of the packages that ran; the plate (its frame
numbers and its first frame's header); the frames swapped and those without a face, by frame number; and
the seconds per stage.
"""

import hashlib
import json
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
import PyOpenColorIO as ocio
import torch

from fusion.io.colorspace import config_name
from fusion.io.digest import file_sha256
from fusion.io.footage import Source
from fusion.io.plate import read_header
from fusion.swap.loader import SwapModel
from fusion.swap.options import SwapOptions

if TYPE_CHECKING:
    from fusion.swap.pipeline import SwapReport

#: The manifest's layout; raised when a key changes meaning.
MANIFEST_FORMAT = 1

#: Options a render resolves itself (`resolved_options`) or that do not change its frames.
_NOT_ASKED = ("overwrite", "device", "precision", "fps", "landmarks", "jitter", "smooth_window", "batch_size")


def package_versions() -> dict[str, str | None]:
    """The versions of what a render ran on (None for fusion run from a checkout it was not installed from)."""
    try:
        fusion = metadata.version("fusion")
    except metadata.PackageNotFoundError:
        fusion = None
    return {"fusion": fusion, "python": platform.python_version(), "torch": torch.__version__,
            "OpenImageIO": oiio.VERSION_STRING, "OpenColorIO": ocio.__version__, "av": av.__version__,
            "numpy": np.__version__, "opencv": cv2.__version__}


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


def colorspaces(options: SwapOptions, model: SwapModel) -> dict:
    """The plate's colorspace, the checkpoint's working space and the OCIO config that named them (None where
    neither is named: fusion's encoding before OCIO, no config)."""
    plate, working = options.colorspace, model.crop.working_space
    config = config_name(options.ocio_config) if plate or working else None
    return {"plate": plate, "working_space": working, "ocio_config": config}


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
        "colorspace": colorspaces(options, model),
        "options": resolved_options(options, model, fps, codec),
        "versions": package_versions(),
        "plate": {"path": str(Path(source.path).absolute()), "name": source.name, "header": header},
        "frames": {"first": numbers[0], "last": numbers[-1], "count": report.frames, "swapped": report.swapped,
                   "no_face": [source.number(index) for index in report.no_face]},
        "seconds": report.seconds,
        "frames_per_second": round(report.frames_per_second, 3),
        "warnings": report.warnings,
    }


def asked_options(options: SwapOptions) -> dict:
    """The options as asked that decide a render's frames (`_NOT_ASKED` aside)."""
    return {option.name: getattr(options, option.name) for option in fields(SwapOptions)
            if option.name not in _NOT_ASKED}


def render_key(source: Source, checkpoint: str | Path, identity: str, options: SwapOptions) -> str:
    """A digest of what decides a render's frames: the checkpoint and tuning (SHA-256), the identity, the plate
    and its frame numbers, the options as asked; a resumed render continues only a killed run of the same."""
    numbers = [source.number(index) for index in range(source.frames)]
    made = [_file(checkpoint), _file(options.tuning), identity, str(Path(source.path).absolute()), numbers,
            asked_options(options)]
    return hashlib.sha256(json.dumps(made, sort_keys=True, default=str).encode()).hexdigest()


def finished_render(manifest: Path, source: Source, checkpoint: str | Path, identity: str,
                    options: SwapOptions) -> bool:
    """Whether `manifest` (written last, so only by a render that finished) records this very render: the
    same checkpoint and tuning (by SHA-256), identity, plate and frames, and the same options as asked
    (those the render resolves itself aside). A shot list run again skips such shots."""
    if not manifest.is_file():
        return False
    try:
        made = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return False
    if made.get("manifest_format") != MANIFEST_FORMAT:
        return False
    asked = asked_options(options)
    numbers = [source.number(index) for index in range(source.frames)]
    return (made["identity"] == identity and made["checkpoint"] == _file(checkpoint)
            and made["tuning"] == _file(options.tuning)
            and made["plate"]["path"] == str(Path(source.path).absolute())
            and [made["frames"]["first"], made["frames"]["last"], made["frames"]["count"]]
            == [numbers[0], numbers[-1], len(numbers)]
            and all(made["options"].get(key) == value for key, value in asked.items()))
