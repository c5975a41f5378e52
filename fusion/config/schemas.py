"""Schemas of `swap.py`'s, `evaluate.py`'s, `export.py`'s, `tune.py`'s, `matte.py`'s and `color.py`'s configs: a typo or a wrong type in an override is an error.

Each extends the options dataclass its command runs with, so the composed
config becomes those options (`fusion.instantiate.to_schema`) with no key
copied by hand; `prepare.py`'s schema lives beside its command in the same
manner. `export_model` takes plain arguments, so `ExportConfig` lists them.
"""

from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING

from fusion.color.fit import ColorOptions
from fusion.eval.evaluate import EvaluateOptions
from fusion.export.write import OPSET
from fusion.occlusion.fit import MatteOptions
from fusion.swap.pipeline import SwapOptions
from fusion.tune.shot import ShotTuningOptions


@dataclass
class SwapConfig(SwapOptions):
    """`swap.py`: a trained identity's face into a plate, with a compositor's options."""

    paths: Any = field(default_factory=dict)
    checkpoint: str = MISSING
    identity: str = MISSING
    #: a video, a folder holding an image sequence, or one image
    input: str = MISSING
    #: a video (.mp4 ...), an image file, or a folder (keeps the input's format and bit depth)
    output: str = MISSING


@dataclass
class EvaluateConfig(EvaluateOptions):
    """`evaluate.py`: a checkpoint scored on the held-out frames of the cache it trained on."""

    paths: Any = field(default_factory=dict)
    checkpoint: str = MISSING
    #: the prepared cache; null: the one for the checkpoint's crop settings under paths.cache_dir
    cache_folder: Optional[str] = None
    output: str = MISSING
    #: also log a table per swap, the summary and the contact sheet to W&B
    wandb: bool = False


@dataclass
class ExportConfig:
    """`export.py`: one identity's face model for a compositing tool (the arguments of `export_model`)."""

    paths: Any = field(default_factory=dict)
    checkpoint: str = MISSING
    #: whose decoder: one of the identities the model was trained on
    identity: str = MISSING
    #: onnx (Flame's Inference node, onnxruntime) or torchscript (Nuke's CatFileCreator)
    format: str = "onnx"
    #: the model file (.onnx or .pt), its sidecar beside it as .json; null: beside the checkpoint
    output: Optional[str] = None
    #: true: replace a previous export (the checkpoint is never replaced)
    overwrite: bool = False
    #: ONNX opset, 18 or later (ignored for torchscript)
    opset: int = OPSET


@dataclass
class TuneConfig(ShotTuningOptions):
    """`tune.py`: a checkpoint's encoder tuned on one shot of a trained identity, decoders frozen."""

    paths: Any = field(default_factory=dict)
    checkpoint: str = MISSING
    #: the trained identity who plays in the shot
    identity: str = MISSING
    #: the shot: a video, a folder holding an image sequence, or one image
    shot: str = MISSING
    #: the tuned encoder file; null: beside the checkpoint, <checkpoint name>.tuned-<shot name>.pt
    output: Optional[str] = None
    #: true: replace a previous tuning (the checkpoint and the shot are never replaced)
    overwrite: bool = False
    #: keep the shot's aligned crops here (to look at, or to tune again faster); null: a temporary folder
    work: Optional[str] = None


@dataclass
class MatteCommandConfig(MatteOptions):
    """`matte.py`: a checkpoint's occlusion-aware face matte, trained semi-supervised and stored with it."""

    paths: Any = field(default_factory=dict)
    checkpoint: str = MISSING
    #: the prepared cache the model was trained from; null: the one for its crop settings under paths.cache_dir
    cache_folder: Optional[str] = None
    #: the checkpoint with the matte; null: beside the checkpoint, <checkpoint name>.matte.ckpt
    output: Optional[str] = None
    #: true: replace a previous output (the checkpoint itself is never replaced)
    overwrite: bool = False


@dataclass
class ColorCommandConfig(ColorOptions):
    """`color.py`: a checkpoint's color-harmonisation LUT network, trained on its swaps and stored with it."""

    paths: Any = field(default_factory=dict)
    checkpoint: str = MISSING
    #: the prepared cache the model was trained from; null: the one for its crop settings under paths.cache_dir
    cache_folder: Optional[str] = None
    #: the checkpoint with the LUT network; null: beside the checkpoint, <checkpoint name>.color.ckpt
    output: Optional[str] = None
    #: true: replace a previous output (the checkpoint itself is never replaced)
    overwrite: bool = False
