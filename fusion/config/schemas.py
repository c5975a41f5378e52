"""Schemas of `swap.py`'s, `evaluate.py`'s, `coverage_report.py`'s, `export.py`'s, `tune.py`'s, `matte.py`'s and `color.py`'s configs: a typo or a wrong type in an override is an error.

Each extends the options dataclass its command runs with, so the composed
config becomes those options (`fusion.instantiate.to_schema`) with no key
copied by hand; `prepare.py`'s schema lives beside its options
(`fusion.data.prepare_options`) in the same manner. The options modules load no torch,
so `--help` or a refused command line is answered before any network code loads.
`export_model` takes plain arguments, so `ExportConfig` lists them. What every command on a
checkpoint takes is written once (`CheckpointCommand`, `CacheCommand`).
"""

from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING

from fusion.color.options import ColorOptions
from fusion.eval.options import CoverageOptions, EvaluateOptions
from fusion.export.options import OPSET
from fusion.occlusion.options import MatteOptions
from fusion.swap.options import SwapOptions
from fusion.tune.options import ShotTuningOptions


@dataclass
class CheckpointCommand:
    """What every command on a trained checkpoint takes."""

    #: the folders (conf/paths): the run folder, the caches
    paths: Any = field(default_factory=dict)
    #: the trained checkpoint, RUN/checkpoints/last.ckpt (or one a command wrote beside it)
    checkpoint: str = MISSING
    #: true: replace a previous output (an input, or the checkpoint itself, is never replaced)
    overwrite: bool = False


@dataclass
class CacheCommand(CheckpointCommand):
    """A command that reads the crops its checkpoint was trained on."""

    #: the prepared cache the model was trained from; null: the one for its crop settings under paths.cache_dir
    cache_folder: Optional[str] = None


@dataclass
class SwapConfig(CheckpointCommand, SwapOptions):
    """`swap.py`: a trained identity's face into a plate, with a compositor's options."""

    identity: str = MISSING
    #: a video, a folder holding an image sequence, a numbered sequence (plate.%04d.exr, or plate.####.exr
    #: quoted on the command line: 'input="plate.####.exr"'; EXR, DPX, TIFF, PNG, JPEG) or one image
    input: str = MISSING
    #: a video (.mp4 ...), an image file, a folder, or a numbered sequence (out/sc01.####.exr: its folder
    #: holds exactly this render's frames); images keep the plate's format, pixel type, compression,
    #: windows, channels and header. <output>.json records how the render was made
    output: str = MISSING


@dataclass
class EvaluateConfig(CacheCommand, EvaluateOptions):
    """`evaluate.py`: a checkpoint scored on the held-out frames of the cache it trained on."""

    output: str = MISSING
    #: also log a table per swap, the summary and the contact sheet to W&B
    wandb: bool = False


@dataclass
class CoverageConfig(CacheCommand, CoverageOptions):
    """`coverage_report.py`: which frames of a plate lie outside the poses and expressions of an identity's training crops."""

    #: whose footage the plate is compared with: one of the identities the model was trained on
    identity: str = MISSING
    #: the plate, as swap.py takes it: a video, an image sequence's folder or pattern, or one image
    input: str = MISSING
    #: the folder for coverage.json, coverage_timeline.png and coverage_sheet.png
    output: str = MISSING


@dataclass
class ExportConfig(CheckpointCommand):
    """`export.py`: one identity's face model for a compositing tool (the arguments of `export_model`)."""

    #: whose decoder: one of the identities the model was trained on
    identity: str = MISSING
    #: onnx (Flame's Inference node, onnxruntime) or torchscript (Nuke's CatFileCreator)
    format: str = "onnx"
    #: the model file (.onnx or .pt), its sidecar beside it as .json; null: beside the checkpoint
    output: Optional[str] = None
    #: ONNX opset, 18 or later (ignored for torchscript)
    opset: int = OPSET


@dataclass
class TuneConfig(CheckpointCommand, ShotTuningOptions):
    """`tune.py`: a checkpoint's encoder tuned on one shot of a trained identity, decoders frozen."""

    #: the trained identity who plays in the shot
    identity: str = MISSING
    #: the shot: a video, a folder holding an image sequence, or one image
    shot: str = MISSING
    #: the tuned encoder file; null: beside the checkpoint, <checkpoint name>.tuned-<shot name>.pt
    output: Optional[str] = None
    #: keep the shot's aligned crops here (to look at, or to tune again faster); null: a temporary folder
    work: Optional[str] = None


@dataclass
class MatteCommandConfig(CacheCommand, MatteOptions):
    """`matte.py`: a checkpoint's occlusion-aware face matte, trained semi-supervised and stored with it."""

    #: the checkpoint with the matte; null: beside the checkpoint, <checkpoint name>.matte.ckpt
    output: Optional[str] = None


@dataclass
class ColorCommandConfig(CacheCommand, ColorOptions):
    """`color.py`: a checkpoint's color-harmonisation LUT network, trained on its swaps and stored with it."""

    #: the checkpoint with the LUT network; null: beside the checkpoint, <checkpoint name>.color.ckpt
    output: Optional[str] = None
