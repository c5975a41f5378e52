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
from dataclasses import dataclass, fields
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


@dataclass(frozen=True)
class RenderInputs:
    """What decides a render's frames, read once a render (the checkpoint and tuning hashed once): the
    manifest records it, a finished render is recognised by it, a killed one's staging is keyed by it."""

    #: the checkpoint's and the tuning's path and SHA-256 (`tuning` None without one)
    checkpoint: dict
    tuning: dict | None
    identity: str
    #: the plate's absolute path and the frame numbers rendered
    plate: str
    numbers: tuple[int, ...]
    #: the options as asked that decide the frames (`_NOT_ASKED` aside)
    asked: dict

    @property
    def key(self) -> str:
        """A digest of all of it: a resumed render continues only a killed run of the same render."""
        made = [self.checkpoint, self.tuning, self.identity, self.plate, list(self.numbers), self.asked]
        return hashlib.sha256(json.dumps(made, sort_keys=True, default=str).encode()).hexdigest()


def render_inputs(source: Source, checkpoint: str | Path, identity: str, options: SwapOptions) -> RenderInputs:
    """The `RenderInputs` of a render of `source` with `identity` from `checkpoint`."""
    asked = {option.name: getattr(options, option.name) for option in fields(SwapOptions)
             if option.name not in _NOT_ASKED}
    return RenderInputs(_file(checkpoint), _file(options.tuning), identity, str(Path(source.path).absolute()),
                        tuple(source.number(index) for index in range(source.frames)), asked)


def render_manifest(source: Source, inputs: RenderInputs, options: SwapOptions, model: SwapModel,
                    report: "SwapReport", fps: Fraction, codec: str | None = None) -> dict:
    """The manifest of a finished render of `source` made from `inputs` (see the module)."""
    numbers = inputs.numbers
    matte = model.trained.get("matte") if options.matte == "learned" else None
    color = model.trained.get("color") if options.color == "lut" else None
    header = read_header(source.images[0]).describe() if source.images else source.video.describe()
    return {
        "manifest_format": MANIFEST_FORMAT,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "identity": inputs.identity,
        "checkpoint": inputs.checkpoint,
        "tuning": inputs.tuning,
        "matte": {"kind": options.matte, "training": matte},
        "color": {"kind": options.color, "training": color},
        "colorspace": colorspaces(options, model),
        "options": resolved_options(options, model, fps, codec),
        "versions": package_versions(),
        "plate": {"path": inputs.plate, "name": source.name, "header": header},
        "frames": {"first": numbers[0], "last": numbers[-1], "count": report.frames, "swapped": report.swapped,
                   "no_face": [source.number(index) for index in report.no_face]},
        "seconds": report.seconds,
        "frames_per_second": round(report.frames_per_second, 3),
        "warnings": report.warnings,
    }


def finished_render(manifest: Path, inputs: RenderInputs) -> bool:
    """Whether `manifest` (written last, so only by a render that finished) records this very render: the
    same `inputs` (the options the render resolves itself aside). A shot list run again skips such shots."""
    if not manifest.is_file():
        return False
    try:
        made = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return False
    if made.get("manifest_format") != MANIFEST_FORMAT:
        return False
    numbers = inputs.numbers
    return (made["identity"] == inputs.identity and made["checkpoint"] == inputs.checkpoint
            and made["tuning"] == inputs.tuning and made["plate"]["path"] == inputs.plate
            and [made["frames"]["first"], made["frames"]["last"], made["frames"]["count"]]
            == [numbers[0], numbers[-1], len(numbers)]
            and all(made["options"].get(key) == value for key, value in inputs.asked.items()))
