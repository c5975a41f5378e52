"""Writing one identity's face model for a compositing tool: ONNX (Flame's Inference node, onnxruntime) or
TorchScript (Nuke's CatFileCreator), with a JSON sidecar that says how to make its input.

The model is `FaceModel` from the checkpoint's weight average where it has
one, loaded as the swap loads it (`load_swap_model`: `weights_only`, fp32 on
the CPU). The sidecar (`<output stem>.json` beside it, the name Flame looks
for) records the tensors' names and layout, the color encoding, the crop
layout the model was trained on, and which checkpoint (path and sha256) it
came from. Both files are staged and moved into place together; a previous
export is replaced only with `overwrite=true`, the checkpoint never.
"""

import contextlib
import importlib.util
import logging
import warnings
from importlib.metadata import version
from pathlib import Path

import torch

from fusion.errors import CheckpointError, ConfigError, check_choice
from fusion.export.face_model import FaceModel
from fusion.export.options import FORMATS, OPSET
from fusion.faces.align import REFERENCE_POINTS, canonical_points
from fusion.io.atomic import StagedOutputs, disk_full, is_disk_full, write_json
from fusion.io.digest import file_sha256
from fusion.io.outputs import check_outputs
from fusion.swap.loader import SwapModel, load_swap_model

INPUT, OUTPUT = "crops", "faces"
ENCODING = ("sRGB-encoded, white at 1.0: 8- and 16-bit pixels scaled to [0, 1], scene-linear (EXR) pixels "
            "through the sRGB curve first; faces come out alike (the inverse curve takes them back to linear)")


def encoding(working_space: str | None) -> str:
    """What the tensors' values are, for the crops' `working_space` (None: `ENCODING`, fusion's before OCIO).

    >>> encoding("ACEScct")[:32], encoding(None) == ENCODING
    ("OpenColorIO colorspace 'ACEScct'", True)
    """
    if working_space is None:
        return ENCODING
    return (f"OpenColorIO colorspace {working_space!r}, values as they are: the plate converted into it, faces "
            "converted back from it")


def _examples(face: FaceModel, *batches: int) -> list[torch.Tensor]:
    """Crops of each batch size to trace or export with (their values do not matter)."""
    generator = torch.Generator().manual_seed(0)
    return [torch.rand(b, 3, face.resolution, face.resolution, generator=generator) for b in batches]


@contextlib.contextmanager
def _quiet_exporter():
    """Hold back the ONNX exporter's chatter (each optimiser pass at INFO, which Hydra's logging shows, absent
    torchvision ops, torch.export's deprecations of its own internals); its errors still raise."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnx_ir", "onnxscript")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels):
                logger.setLevel(level)


def _write_onnx(face: FaceModel, path: Path, opset: int) -> int:
    """ONNX through torch.export (`dynamo=True`): the exporter torch maintains (the TorchScript-based one warns
    that it will be removed) keeps batch a named dynamic axis, so one file takes any batch; weights inside the
    file. Returns the opset written."""
    with _quiet_exporter():
        program = torch.onnx.export(face, tuple(_examples(face, 2)), path, input_names=[INPUT],
                                    output_names=[OUTPUT], opset_version=opset, dynamo=True, external_data=False,
                                    verbose=False, dynamic_shapes={"crops": {0: torch.export.Dim("batch")}})
    return program.model.opset_imports[""]


def _write_torchscript(face: FaceModel, path: Path) -> None:
    """TorchScript by tracing (FusionNet's decoders index a ModuleDict by a computed key, which scripting
    refuses), checked against the module at a second batch size so batch stays free."""
    two, three = _examples(face, 2, 3)
    torch.jit.save(torch.jit.trace(face, two, check_inputs=[(three,)]), path)


def check_opset(opset: int) -> None:
    """Refuse an opset the exporter cannot write, or an ONNX export without the `export` extra installed."""
    missing = [name for name in ("onnx", "onnxscript") if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(f"format=onnx needs {' and '.join(missing)}: pip install -e '.[export]' "
                          "(or format=torchscript)")
    import onnx

    if not OPSET <= opset <= onnx.defs.onnx_opset_version():
        raise ConfigError(f"opset={opset}: torch's ONNX exporter writes opsets {OPSET} to "
                          f"{onnx.defs.onnx_opset_version()}; e.g. opset={OPSET}")


def crop_layout(model: SwapModel) -> dict:
    """How to make the model's input from a plate: the crop settings it was trained on and the alignment at its size."""
    size, crop = model.net.output_resolution, model.crop
    return {
        "resolution": size,
        "landmarks": f"68-point iBUG 300-W layout (0-based), found by {crop.landmarks}",
        "reference_points": list(REFERENCE_POINTS),
        "template": canonical_points(size, crop.face_scale).round(4).tolist(),
        "transform": (f"{crop.alignment} least-squares (Umeyama) fit of the reference points to the template: "
                      "a 2x3 matrix from plate to crop pixels as cv2.warpAffine takes it (pixel centres at integers)"),
        "resampling": ("bicubic where the face is enlarged; where it shrinks, area-reduced to the crop's scale, "
                       "then bilinear; edge pixels replicated"),
        "crop": crop.recorded(),
    }


def flame_description(identity: str, size: int) -> dict:
    """The `ModelDescription` Flame's Inference node reads from a sidecar of the model's name."""
    return {"MinimumVersion": "2025.1", "Name": f"fusion {identity}",
            "Description": f"{identity}'s face from an aligned {size} px face crop (see the crop layout)",
            "SupportsSceneLinear": False, "KeepAspectRatio": False, "Padding": 1,
            "Inputs": [{"Name": INPUT, "Description": "aligned face crop", "Type": "Front", "Gain": 1.0}],
            "Outputs": [{"Name": OUTPUT, "Description": f"{identity}'s face", "Type": "Result",
                         "InverseGain": 1.0, "ScalingFactor": 1.0}]}


def sidecar(model: SwapModel, identity: str, format: str, output: Path, checkpoint: Path, opset: int | None) -> dict:
    """What the sidecar JSON holds: the file, whose face, the tensors, the crop layout and where it all came from."""
    size = model.net.output_resolution
    tensor = {"shape": ["batch", 3, size, size], "layout": "NCHW", "channels": "RGB", "dtype": "float32",
              "range": [0.0, 1.0], "encoding": encoding(model.crop.working_space)}
    data = {"format": format, "file": output.name, "identity": identity, "identities": list(model.identities),
            "input": {"name": INPUT, **tensor}, "output": {"name": OUTPUT, **tensor}, "crop": crop_layout(model),
            "checkpoint": {"path": str(checkpoint.resolve()), "sha256": file_sha256(checkpoint)},
            "fusion_version": version("fusion"), "torch_version": torch.__version__, "opset": opset}
    if format == "onnx":
        data["ModelDescription"] = flame_description(identity, size)
    return data


def export_summary(identity: str, model: Path, sidecar: Path) -> list[str]:
    """The closing line: where `identity`'s face model went, and its sidecar (how to make the model's input).

    >>> export_summary("hopper", Path("hopper.pt"), Path("hopper.json"))
    ["hopper's face model: hopper.pt (how to make its input: hopper.json)"]
    """
    return [f"{identity}'s face model: {model} (how to make its input: {sidecar})"]


def export_model(checkpoint: str | Path, identity: str, format: str = "onnx", output: str | Path | None = None,
                 overwrite: bool = False, opset: int = OPSET) -> list[Path]:
    """Write `identity`'s face model from `checkpoint` as `format` to `output` and its sidecar; return both paths.

    `output` None is beside the checkpoint, `<checkpoint stem>_<identity>_<format>.onnx|.pt`: the format in
    the name keeps the two formats' sidecars apart."""
    checkpoint = Path(checkpoint)
    check_choice("format", format, FORMATS, "onnx: Flame's Inference node, onnxruntime; torchscript: Nuke's "
                 "CatFileCreator")
    if format == "onnx":
        check_opset(opset)
    suffix = FORMATS[format]
    if output is None:
        output = checkpoint.with_name(f"{checkpoint.stem}_{identity}_{format}{suffix}")
    output = Path(output)
    paths = [output, output.with_suffix(".json")]
    check_outputs(paths, [checkpoint], overwrite)
    if output.suffix != suffix:
        raise ConfigError(f"output={output}: a {format} model is written to a {suffix} file, its sidecar beside it "
                          f"as .json; e.g. output={output.with_suffix(suffix)}")
    model = load_swap_model(checkpoint, "cpu", "fp32")
    try:
        face = FaceModel(model, identity).eval()
    except CheckpointError as error:
        raise CheckpointError(f"{checkpoint}: {error}; pass identity=<one of them>") from None
    try:
        with StagedOutputs() as staged, torch.no_grad():
            if format == "onnx":
                written_opset = _write_onnx(face, staged.path(output), opset)
            else:
                _write_torchscript(face, staged.path(output))
                written_opset = None
            write_json(staged.path(paths[1]), sidecar(model, identity, format, output, checkpoint, written_opset))
    except Exception as error:
        if is_disk_full(error):
            raise disk_full(output, None) from error
        raise
    return paths
