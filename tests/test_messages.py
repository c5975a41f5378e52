"""Messages that say what went wrong and what to do: one line and exit 2, the file or key named, the remedy
right, and a closing command that can be pasted as printed (issue 26)."""

import io
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hydra.core.override_parser.overrides_parser import OverridesParser

from fusion.errors import CheckpointError
from fusion.io.image import write_image
from fusion.model.checkpoint import read_checkpoint
from fusion.training.checkpoint_io import AtomicCheckpointIO

REPO = Path(__file__).resolve().parents[1]
TRAINED = "outputs/train/<run>/checkpoints/last.ckpt"
#: A folder name that the shell splits and Hydra's grammar misreads (a sweep at the comma, a quote, brackets).
AWKWARD = "shots, take (2) [it's]"


def run(script: str, *overrides: str, root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, script, *overrides, f"paths.root_dir={root}"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def one_line_failure(result: subprocess.CompletedProcess, command: str) -> str:
    """The message of a command that failed as a user's mistake: exit 2, one line on stderr, no traceback."""
    assert result.returncode == 2, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert "Traceback" not in output and "HYDRA_FULL_ERROR" not in output, output[-3000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{command} failed: "), result.stderr
    return lines[0]


def overrides_of(line: str, script: str) -> dict[str, object]:
    """The values a printed `python <script> key=value ...` gives, read as the shell and then Hydra read it."""
    words = shlex.split(line[line.index("python "):])
    assert words[:2] == ["python", script], words
    parsed = OverridesParser.create().parse_overrides(words[2:])
    return {override.key_or_group: override.value() for override in parsed}


# A plate of a format that is not footage


def test_swap_names_a_plate_of_an_unknown_format_and_the_formats_it_takes(checkpoint, tmp_path):
    clip = tmp_path / "clip.xyz"
    clip.write_bytes(b"not footage")
    result = run("swap.py", f"input={clip}", f"checkpoint={checkpoint}", "identity=hopper",
                 f"output={tmp_path / 'out.mp4'}", root=tmp_path)
    message = one_line_failure(result, "swap")
    assert f"{clip}: '.xyz' is not footage" in message and ".mp4" in message and ".exr" in message
    assert "folder of images" in message and not (tmp_path / "out.mp4").exists()


# Files given as a checkpoint that are none


def png_as_checkpoint(folder: Path) -> Path:
    """An image renamed to look like a checkpoint."""
    write_image(folder / "still.png", np.zeros((8, 8, 3), np.uint8))
    return (folder / "still.png").rename(folder / "still.ckpt")


@pytest.fixture(scope="module")
def exported(checkpoint, tmp_path_factory) -> Path:
    """A TorchScript face model exported from the checkpoint fixture (with its sidecar beside it)."""
    from fusion.export.write import export_model

    return export_model(checkpoint, "hopper", "torchscript", tmp_path_factory.mktemp("export") / "face.pt")[0]


def test_train_says_a_png_is_no_checkpoint_and_what_to_resume_from(tmp_path):
    png = png_as_checkpoint(tmp_path)
    message = one_line_failure(run("train.py", f"ckpt_path={png}", "logger=csv", root=tmp_path), "train")
    assert message == (f"train failed: {png} is a PNG image, not a checkpoint: pass a training checkpoint, "
                       f"e.g. {TRAINED}")
    assert not (tmp_path / "data").exists()  # refused before the demo footage or any cache was made


@pytest.mark.parametrize("script", ["matte.py", "color.py"])
def test_matte_and_color_say_an_export_is_no_checkpoint_and_name_its_source(script, exported, checkpoint, tmp_path):
    message = one_line_failure(run(script, f"checkpoint={exported}", root=tmp_path), script[:-3])
    assert message.endswith(f"{exported} is a TorchScript model (what export.py writes for Nuke), not a checkpoint: "
                            f"pass the checkpoint it was exported from, {checkpoint}")
    assert "weights_only" not in message and "truncated" not in message


def zip_of(name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, b"")
    return buffer.getvalue()


@pytest.mark.parametrize("name, data, expected", [
    ("still.ckpt", cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes(),
     "is a PNG image, not a checkpoint: pass a training checkpoint"),
    ("frame.ckpt", cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes(),
     "is a JPEG image, not a checkpoint"),
    ("plate.exr", b"v/1\x01" + bytes(60), "is an OpenEXR image, not a checkpoint"),
    # the first bytes of an ONNX model as torch writes one: ir_version 10, producer "pytorch"
    ("face.onnx", bytes.fromhex("080a12077079746f726368") + bytes(64),
     r"is an ONNX model \(what export.py writes for Flame\), not a checkpoint"),
    ("plates.ckpt", zip_of("plate.0001.png"), r"is a zip archive of another kind \(plate.0001.png\), not a checkpoint"),
    ("empty.ckpt", b"", r"is empty \(0 bytes\): a copy or save that did not finish; copy it again"),
], ids=["png", "jpeg", "exr", "onnx", "zip", "empty"])
def test_each_kind_of_file_is_named_with_what_to_pass(name, data, expected, tmp_path):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(CheckpointError, match=expected) as refused:
        read_checkpoint(tmp_path / name)
    assert str(tmp_path / name) in str(refused.value) and TRAINED in str(refused.value)


def test_a_checkpoint_cut_short_is_named_so(checkpoint, tmp_path):
    data = checkpoint.read_bytes()
    (tmp_path / "copied.ckpt").write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match=r"copied\.ckpt is cut short .*: a copy or save that did not finish; "
                                              r"copy it again, or pass another training checkpoint"):
        read_checkpoint(tmp_path / "copied.ckpt")


class Payload:
    """Pickles as a call to Path.touch(marker): what a tampered model file would run on load."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


def test_lightnings_restore_identifies_the_file_and_loads_weights_only(checkpoint, tmp_path):
    """Lightning passes `weights_only` through its CheckpointIO: fusion's reads weights only whatever it is
    given, and names a file of another kind as read_checkpoint does."""
    io = AtomicCheckpointIO()
    assert "fusion" in io.load_checkpoint(checkpoint, weights_only=False)
    with pytest.raises(CheckpointError, match="is a PNG image, not a checkpoint"):
        io.load_checkpoint(png_as_checkpoint(tmp_path), weights_only=False)
    saved = torch.load(checkpoint, weights_only=True)
    saved["note"] = Payload(tmp_path / "ran")
    torch.save(saved, tmp_path / "evil.ckpt")
    with pytest.raises(CheckpointError, match="refused, and nothing in it was run"):
        io.load_checkpoint(tmp_path / "evil.ckpt", weights_only=False)
    assert not (tmp_path / "ran").exists()


# Closing commands to paste


def test_prepare_prints_a_train_command_that_gives_back_a_footage_path_with_spaces(tmp_path, photos, compose, capsys):
    from fusion.commands.command import execute
    from fusion.commands.prepare import PREPARE

    footage = tmp_path / AWKWARD
    write_image(footage / "hopper" / "f0.png", photos["hopper"])
    cfg = compose("prepare", [f"paths.root_dir={tmp_path}", f'footage="{footage}"', "crop.landmarks=dlib",
                              "crop.resolution=64", "workers=1", "contact_sheet=0"])
    assert execute(PREPARE, cfg) == 0
    next_step = capsys.readouterr().out.strip().splitlines()[-1]
    assert next_step.startswith("next: python train.py ")
    assert overrides_of(next_step, "train.py") == {"footage": str(footage), "crop.resolution": 64,
                                                   "crop.landmarks": "dlib"}


def test_train_prints_a_swap_command_that_gives_back_paths_and_names_with_spaces(tmp_path, compose):
    from fusion.training.run import TrainResult

    run_dir, footage = tmp_path / AWKWARD / "run", tmp_path / AWKWARD / "footage"
    write_image(footage / "John O'Brien" / "plate 0001.png", np.zeros((8, 8, 3), np.uint8))
    result = TrainResult(run_dir, run_dir / "checkpoints" / "last.ckpt", {}, ["John O'Brien", "Ann Lee"], footage)
    swap = result.summary()[-1]
    assert swap.startswith("try: python swap.py ")
    given = overrides_of(swap, "swap.py")
    plate = footage / "John O'Brien" / "plate 0001.png"
    assert given == {"checkpoint": str(result.checkpoint), "identity": "Ann Lee", "input": str(plate),
                     "output": "swapped.mp4", "preview": True}
    cfg = compose("swap", shlex.split(swap[len("try: "):])[2:])
    assert (cfg.checkpoint, cfg.identity, cfg.input) == (given["checkpoint"], given["identity"], given["input"])


# A mistyped key, taken up as Hydra suggests (+key=value)


def test_train_refuses_a_mistyped_key_and_names_the_valid_ones(tmp_path):
    message = one_line_failure(run("train.py", "+crop.resoluton=64", "logger=csv", root=tmp_path), "train")
    assert message.startswith("train failed: crop.resoluton is not a setting of crop (did you mean "
                              "crop.resolution?); valid: resolution, face_scale, ")
    assert not (tmp_path / "data").exists()
