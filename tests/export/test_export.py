"""Exports for compositing tools: ONNX and TorchScript decode real crops as the swap does at any batch, the
sidecar says how to make their input, and previous exports, the checkpoint and bad settings are refused."""

import errno
import hashlib
import json
import subprocess
import sys
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch

from fusion.config.schemas import ExportConfig
from fusion.data.cache import CropSettings
from fusion.errors import CheckpointError, ConfigError, DiskFullError, OutputError
from fusion.export.face_model import FaceModel
from fusion.export.options import FORMATS
from fusion.export.write import export_model
from fusion.faces.align import REFERENCE_POINTS, align_face
from fusion.faces.landmarks import jittered_landmarks
from fusion.instantiate import to_schema
from fusion.io.image import encode
from fusion.model.fusion_net import FusionConfig, FusionNet
from fusion.model.checkpoint import fusion_section, load_network, read_checkpoint
from fusion.model.decode import decode_faces
from fusion.swap.loader import load_swap_model

REPO = Path(__file__).resolve().parents[2]

# torch calls TorchScript deprecated; Nuke's CatFileCreator loads only TorchScript.
pytestmark = pytest.mark.filterwarnings(r"ignore:`torch\.jit\.\w+` is deprecated:DeprecationWarning")


@pytest.fixture(scope="module")
def averaged(tmp_path_factory):
    """A checkpoint grown decoder-only (16 px encoder, 32 px decoders) whose weight average differs from its weights."""
    net = FusionNet.build(FusionConfig(identities=2, resolution=16, width_multiplier=0.125), ["decoder_only"])
    generator = torch.Generator().manual_seed(1)
    weights = net.state_dict()
    state = {f"net.{k}": v for k, v in weights.items()}
    state |= {f"net_ema.{k}": v + 0.02 * torch.randn(v.shape, generator=generator) for k, v in weights.items()}
    crop = asdict(CropSettings(resolution=64, landmarks="dlib"))
    path = tmp_path_factory.mktemp("averaged") / "averaged.ckpt"
    torch.save({"state_dict": state, "fusion": fusion_section(net, ["astronaut", "hopper"], 1, crop)}, path)
    return path


@pytest.fixture(scope="module")
def faces(photos, dlib_backend):
    """Three real faces as (photo, landmarks): hopper, the astronaut, and hopper mirrored."""
    found = []
    for photo in (photos["hopper"], photos["astronaut"], np.ascontiguousarray(photos["hopper"][:, ::-1])):
        found.append((photo, jittered_landmarks(dlib_backend, photo, dlib_backend.detect(photo)[0], 4)))
    return found


@pytest.fixture(scope="module")
def exported(checkpoint, averaged, tmp_path_factory):
    """`exported(name, format)`: hopper's face model from fixture `name` (checkpoint, averaged), written once."""
    written = {}
    folder = tmp_path_factory.mktemp("exported")

    def export(name: str, format: str) -> list[Path]:
        if (name, format) not in written:
            path = {"checkpoint": checkpoint, "averaged": averaged}[name]
            written[name, format] = export_model(path, "hopper", format, folder / f"{name}_{format}{FORMATS[format]}")
        return written[name, format]

    return export


def aligned_crops(faces, model) -> torch.Tensor:
    """The faces aligned as the swap aligns them for `model`: (3, 3, R, R) in the network's encoding."""
    size, crop = model.net.output_resolution, model.crop
    crops = [encode(align_face(photo, points, size, crop.face_scale, crop.alignment).image) for photo, points in faces]
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous()


def run(model_file: Path, crops: torch.Tensor) -> torch.Tensor:
    """The exported file run as a compositing tool would: onnxruntime for ONNX, torch.jit.load for TorchScript."""
    if model_file.suffix == ".onnx":
        session = onnxruntime.InferenceSession(str(model_file), providers=["CPUExecutionProvider"])
        return torch.from_numpy(session.run(None, {"crops": crops.numpy()})[0])
    with torch.no_grad():
        return torch.jit.load(model_file)(crops)


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("name", ["checkpoint", "averaged"])
def test_exports_decode_as_the_swap_at_any_batch(name, format, faces, exported, request):
    model = load_swap_model(request.getfixturevalue(name))
    crops = aligned_crops(faces, model)
    model_file, _ = exported(name, format)
    for batch in (crops[:1], crops):
        faces_out = run(model_file, batch)
        assert faces_out.shape == batch.shape
        assert (faces_out - model.decode(batch, 1)).abs().max() < 1e-4


def test_exports_take_the_weight_average(averaged, faces, exported):
    saved = read_checkpoint(averaged)
    saved["state_dict"] = {k: v for k, v in saved["state_dict"].items() if k.startswith("net.")}
    weights = load_network(saved).eval()  # the weights alone, not their average
    crops = aligned_crops(faces, load_swap_model(averaged))
    with torch.no_grad():
        alone = decode_faces(weights, crops, torch.ones(3, dtype=torch.long))
    assert (run(exported("averaged", "torchscript")[0], crops) - alone).abs().max() > 1e-3


def test_the_sidecar_says_what_the_model_takes_and_where_it_came_from(checkpoint, faces, exported):
    model_file, path = exported("checkpoint", "onnx")
    assert path == model_file.with_name("checkpoint_onnx.json")  # the name Flame's Inference node looks for
    info = json.loads(path.read_text())
    model = load_swap_model(checkpoint)
    size = model.net.output_resolution
    assert (info["format"], info["file"], info["identity"]) == ("onnx", "checkpoint_onnx.onnx", "hopper")
    assert info["identities"] == ["astronaut", "hopper"] and info["opset"] == 18
    assert info["fusion_version"] == version("fusion") and info["torch_version"] == torch.__version__
    assert info["checkpoint"] == {"path": str(checkpoint.resolve()),
                                  "sha256": hashlib.sha256(checkpoint.read_bytes()).hexdigest()}
    session = onnxruntime.InferenceSession(str(model_file), providers=["CPUExecutionProvider"])
    for tensor, found in [(info["input"], session.get_inputs()[0]), (info["output"], session.get_outputs()[0])]:
        assert tensor["name"] == found.name and tensor["shape"] == found.shape == ["batch", 3, size, size]
        layout = (tensor["layout"], tensor["channels"], tensor["dtype"], tensor["range"])
        assert layout == ("NCHW", "RGB", "float32", [0, 1])
        assert tensor["encoding"].startswith("sRGB-encoded")
    crop = info["crop"]
    assert crop["resolution"] == size and crop["crop"] == model.crop.recorded()
    assert crop["reference_points"] == list(REFERENCE_POINTS) and len(crop["template"]) == 6
    for photo, points in faces:  # the template is where the swap's alignment puts the reference points
        aligned = align_face(photo, points, size, model.crop.face_scale, model.crop.alignment).landmarks
        assert np.abs(aligned[list(REFERENCE_POINTS)] - crop["template"]).mean() < 0.05 * size
    assert info["ModelDescription"]["Inputs"][0]["Name"] == "crops"


def test_a_previous_export_is_replaced_only_with_overwrite(checkpoint, tmp_path):
    paths = export_model(checkpoint, "hopper", "torchscript", tmp_path / "face.pt")
    before = [p.read_bytes() for p in paths]
    with pytest.raises(OutputError, match=r"face\.pt, .*face\.json; pass overwrite=true"):
        export_model(checkpoint, "astronaut", "torchscript", tmp_path / "face.pt")
    assert [p.read_bytes() for p in paths] == before
    export_model(checkpoint, "astronaut", "torchscript", tmp_path / "face.pt", overwrite=True)
    assert json.loads(paths[1].read_text())["identity"] == "astronaut"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face.json", "face.pt"]  # nothing staged is left


def test_the_checkpoint_is_never_an_output(checkpoint):
    before = checkpoint.read_bytes()
    with pytest.raises(OutputError, match=r"last\.ckpt would overwrite the input"):
        export_model(checkpoint, "hopper", "onnx", checkpoint, overwrite=True)
    assert checkpoint.read_bytes() == before


def test_by_default_the_export_goes_beside_the_checkpoint_named_by_its_format(checkpoint):
    written = export_model(checkpoint, "hopper", "torchscript")
    assert written == [checkpoint.with_name(f"last_hopper_torchscript{suffix}") for suffix in (".pt", ".json")]
    for path in written:
        path.unlink()


def test_an_unknown_identity_is_refused_naming_the_models(checkpoint, tmp_path):
    with pytest.raises(CheckpointError, match=r"last\.ckpt: identity 'nobody' .* it has astronaut, hopper"):
        export_model(checkpoint, "nobody", "onnx", tmp_path / "face.onnx")
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("settings, refusal", [
    ({"format": "tflite"}, r"format=tflite: choose one of onnx, torchscript"),
    ({"output": "face.pt"}, r"output=.*face\.pt: a onnx model is written to a \.onnx file"),
    ({"opset": 11}, r"opset=11: .* writes opsets 18 to"),
])
def test_impossible_settings_are_refused(checkpoint, tmp_path, settings, refusal):
    settings = {"format": "onnx", **settings}
    settings["output"] = tmp_path / settings.get("output", "face.onnx")
    with pytest.raises(ConfigError, match=refusal):
        export_model(checkpoint, "hopper", **settings)
    assert not any(tmp_path.iterdir())


def test_a_full_disk_replaces_nothing_and_says_so(checkpoint, tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch.jit, "save", full)
    with pytest.raises(DiskFullError, match=r"disk full: writing .*face\.pt"):
        export_model(checkpoint, "hopper", "torchscript", tmp_path / "face.pt")
    assert not any(tmp_path.iterdir())


class Payload:
    """Pickles as a call to Path.touch(marker): what a tampered model file would run on load."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


def test_a_tampered_checkpoint_runs_nothing(checkpoint, tmp_path):
    saved = torch.load(checkpoint, weights_only=True)
    saved["note"] = Payload(tmp_path / "ran")
    torch.save(saved, tmp_path / "evil.ckpt")
    with pytest.raises(CheckpointError, match=r"evil\.ckpt holds a Python object .* refused"):
        export_model(tmp_path / "evil.ckpt", "hopper", "torchscript", tmp_path / "face.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.ckpt"]


def test_crops_of_the_wrong_size_are_refused(checkpoint, exported):
    face = FaceModel(load_swap_model(checkpoint), "hopper")
    assert "hopper, decoder 2 of 2 (astronaut, hopper), 32 px crops -> 32 px faces" in repr(face)
    with pytest.raises(ValueError, match=r"crops must have shape \(B, 3, 32, 32\), got \(1, 3, 64, 64\)"):
        face(torch.zeros(1, 3, 64, 64))
    with pytest.raises(torch.jit.Error, match=r"crops must have shape \(B, 3, 32, 32\)"):
        run(exported("checkpoint", "torchscript")[0], torch.zeros(1, 3, 64, 64))


def test_the_export_config_composes(compose):
    cfg = compose("export", ["checkpoint=x.ckpt", "identity=hopper", "format=torchscript"])
    options = to_schema(cfg, ExportConfig)
    assert (options.format, options.output, options.overwrite, options.opset) == ("torchscript", None, False, 18)


def test_export_py_says_a_refusal_in_one_line(checkpoint, tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "export.py"), f"checkpoint={checkpoint}", "identity=nobody",
                             f"output={tmp_path / 'face.onnx'}", f"hydra.run.dir={tmp_path / 'run'}"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    refusal = [line for line in result.stderr.splitlines() if line.startswith("export failed:")]
    assert len(refusal) == 1 and "it has astronaut, hopper" in refusal[0]
    assert not (tmp_path / "face.onnx").exists()
