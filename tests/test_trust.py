"""Production trust: nothing runs from a model file, no plate or render is lost, bad setups are refused up front."""

import errno
import hashlib
import os
import re
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import fusion.swap.pipeline as pipeline
from fusion.data.cache import CropSettings
from fusion.errors import CheckpointError, ConfigError, DiskFullError, OutputError, WriteError
from fusion.io import atomic
from fusion.io.atomic import StagedOutputs, file_mode
from fusion.io.image import write_image
from fusion.io.video import CODECS, VideoWriter
from fusion.swap.pipeline import SwapOptions, swap
from fusion.training.schedule import ScheduleError, check_world_size, phases

REPO = Path(__file__).resolve().parents[1]


class Payload:
    """Pickles as a call to Path.touch(marker): what a tampered model file would run on load."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def tampered(checkpoint: Path, folder: Path, name: str) -> tuple[Path, Path]:
    """A real fusion checkpoint plus a payload; returns (file, the marker the payload would create)."""
    saved = torch.load(checkpoint, weights_only=True)
    marker = folder / f"{name}.ran"
    saved["note"] = Payload(marker)
    torch.save(saved, folder / f"{name}.ckpt")
    return folder / f"{name}.ckpt", marker


def test_the_payload_is_live_when_loaded_unsafely(checkpoint, tmp_path):
    """The control: the same file loaded without weights_only runs the payload, so the tests below can fail."""
    path, marker = tampered(checkpoint, tmp_path, "control")
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_swap_and_evaluate_run_nothing_from_a_tampered_checkpoint(checkpoint, two_plates, tmp_path):
    from fusion.eval.evaluate import evaluate

    path, marker = tampered(checkpoint, tmp_path, "evil")
    with pytest.raises(CheckpointError, match=r"evil\.ckpt holds a Python object \(\w+\) that loading would run; refused"):
        swap(two_plates, tmp_path / "out", path, "hopper")
    (tmp_path / "cache").mkdir()
    with pytest.raises(CheckpointError, match="refused, and nothing in it was run"):
        evaluate(path, tmp_path / "cache", tmp_path / "eval")
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_resume_runs_nothing_from_a_tampered_checkpoint(checkpoint, tmp_path, compose, fast):
    from fusion.training.run import train

    path, marker = tampered(checkpoint, tmp_path, "resume")
    with pytest.raises(CheckpointError, match="refused"):
        train(compose("train", fast + [f"ckpt_path={path}"], root=tmp_path))
    assert not marker.exists()
    assert not (tmp_path / "data").exists()  # refused before the demo footage or any cache was made


def test_the_command_line_says_why_without_a_traceback(checkpoint, two_plates, tmp_path):
    path, marker = tampered(checkpoint, tmp_path, "cli")
    result = subprocess.run([sys.executable, "swap.py", f"checkpoint={path}", "identity=hopper", f"input={two_plates}",
                             f"output={tmp_path / 'out.mp4'}", f"paths.root_dir={tmp_path}"],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "swap failed:" in result.stderr and "refused" in result.stderr and "Traceback" not in result.stderr
    assert not marker.exists()


def test_outputs_never_touch_inputs(checkpoint, two_plates, tmp_path):
    before = digest(two_plates)
    for output, message in ((two_plates, "would overwrite a file in the input"),
                            (two_plates / "out", "lies inside the input"),
                            (two_plates / "plate.0001.png", "would overwrite a file in the input")):
        with pytest.raises(OutputError, match=message):
            swap(two_plates, output, checkpoint, "hopper", SwapOptions(overwrite=True))
    single = two_plates / "plate.0002.png"
    with pytest.raises(OutputError, match="would overwrite the input"):
        swap(single, single, checkpoint, "hopper", SwapOptions(overwrite=True))
    assert digest(two_plates) == before


def test_a_previous_output_is_replaced_only_with_overwrite(checkpoint, two_plates, tmp_path):
    out = tmp_path / "swapped"
    swap(two_plates, out, checkpoint, "hopper")
    first = digest(out)
    with pytest.raises(OutputError, match="exists: .*plate.0001.png.*overwrite=true"):
        swap(two_plates, out, checkpoint, "astronaut")
    assert digest(out) == first
    swap(two_plates, out, checkpoint, "astronaut", SwapOptions(overwrite=True))
    assert digest(out).keys() == first.keys() and digest(out) != first
    again = digest(out)
    assert swap(two_plates, out, checkpoint, "astronaut").already == out.with_name("swapped.json")  # as asked: skipped
    assert digest(out) == again
    with pytest.raises(OutputError, match="exists: .*plate.0001.png.*overwrite=true"):  # asked otherwise: refused
        swap(two_plates, out, checkpoint, "astronaut", SwapOptions(blend="alpha"))


def test_a_shorter_render_leaves_exactly_its_own_frames(checkpoint, plates, two_plates, tmp_path):
    """Four frames, then two over them: the frames and mattes are this render's two, none of the last one's left;
    replacing frames of other names needs overwrite=true too, since they go."""
    out = tmp_path / "swapped"
    swap(plates, out, checkpoint, "astronaut", SwapOptions(write_matte=True))
    first = digest(out)
    assert sorted(first) == [f"plate.000{i}.png" for i in range(1, 5)]
    swap(two_plates, out, checkpoint, "hopper", SwapOptions(write_matte=True, overwrite=True))
    names = ["plate.0001.png", "plate.0002.png"]
    assert sorted(digest(out)) == names and sorted(digest(tmp_path / "swapped_matte")) == names
    assert digest(out)["plate.0001.png"] != first["plate.0001.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["swapped", "swapped.json", "swapped_matte"]
    for frame in out.iterdir():
        frame.rename(frame.with_name("v1_" + frame.name))
    with pytest.raises(OutputError, match=r"exists: .*swapped/v1_plate\.0001\.png, .*swapped/v1_plate\.0002\.png, "
                                          r".*swapped_matte/plate\.0001\.png and 2 more; pass overwrite=true"):
        swap(two_plates, out, checkpoint, "hopper", SwapOptions(write_matte=True))
    assert sorted(digest(out)) == ["v1_plate.0001.png", "v1_plate.0002.png"]


def test_an_output_folder_holding_other_files_is_refused_before_any_work(checkpoint, two_plates, tmp_path,
                                                                         monkeypatch):
    """Replacing a folder whole would delete a note or a subfolder in it: refused in one line before the model loads."""
    out, mattes = tmp_path / "swapped", tmp_path / "swapped_matte"
    swap(two_plates, out, checkpoint, "hopper", SwapOptions(write_matte=True))
    monkeypatch.setattr(pipeline, "load_swap_model", lambda *args: pytest.fail("the model was loaded"))

    def refused(folder: Path, extra: str) -> None:
        before = digest(tmp_path)
        with pytest.raises(OutputError) as error:
            swap(two_plates, out, checkpoint, "astronaut", SwapOptions(write_matte=True, overwrite=True))
        assert re.fullmatch(rf"folder {re.escape(str(folder))} holds {extra} besides a render's frames \(.*\); "
                            "a render replaces the whole folder and never deletes other files: "
                            "move them out or choose another output", str(error.value))
        assert digest(tmp_path) == before and (folder / extra).exists()

    (out / "notes.txt").write_text("mine")
    refused(out, "notes.txt")
    (out / "notes.txt").unlink()
    (mattes / "refs").mkdir()
    refused(mattes, "refs")


def gone_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_the_next_run_removes_a_killed_runs_staging(checkpoint, two_plates, tmp_path):
    """A killed swap leaves its staging beside the output; the next swap to it removes that, not a live swap's."""
    host = socket.gethostname()
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"]) as live:
        try:
            killed = tmp_path / f".swapped.fusion.partial-{host}-{gone_pid()}-k3j2h1x9"
            rendering = tmp_path / f".swapped.fusion.partial-{host}-{live.pid}-a8d7c6b5"
            for partial in (killed, rendering):
                write_image(partial / "plate.0001.png", np.zeros((8, 8, 3), np.uint8))
            swap(two_plates, tmp_path / "swapped", checkpoint, "hopper")
        finally:
            live.kill()
    assert sorted(p.name for p in tmp_path.iterdir()) == [rendering.name, "swapped", "swapped.json"]
    assert sorted(digest(tmp_path / "swapped")) == ["plate.0001.png", "plate.0002.png"]


def fails_into(folder: Path, move):
    """`move` (a rename or an exchange) that fails with an I/O error when its destination is `folder` or in it."""
    def failing(source, destination, *args, **kwargs):
        if folder in (Path(destination), Path(destination).parent):
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(destination))
        return move(source, destination, *args, **kwargs)
    return failing


def test_a_failed_render_leaves_every_previous_output_untouched(checkpoint, two_plates, tmp_path, monkeypatch):
    """Failing on frame 2, or at the very end when the mattes cannot be moved into place after the frames were:
    the previous frames and mattes stay byte-identical and no staging is left."""
    out, mattes = tmp_path / "swapped", tmp_path / "swapped_matte"
    swap(two_plates, out, checkpoint, "hopper", SwapOptions(write_matte=True))
    before = digest(out), digest(mattes)
    composite, calls = pipeline.composite_face, []

    def second_frame_fails(*args):
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("frame 2 failed")
        return composite(*args)

    with monkeypatch.context() as patch, pytest.raises(RuntimeError, match="frame 2 failed"):
        patch.setattr(pipeline, "composite_face", second_frame_fails)
        swap(two_plates, out, checkpoint, "astronaut", SwapOptions(write_matte=True, overwrite=True))
    assert (digest(out), digest(mattes)) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["swapped", "swapped.json", "swapped_matte"]
    with monkeypatch.context() as patch, pytest.raises(OSError, match="Input/output error"):
        for module, name in ((os, "rename"), (os, "replace"), (atomic, "exchange")):
            patch.setattr(module, name, fails_into(mattes, getattr(module, name, None)), raising=False)
        swap(two_plates, out, checkpoint, "astronaut", SwapOptions(write_matte=True, overwrite=True))
    assert (digest(out), digest(mattes)) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["swapped", "swapped.json", "swapped_matte"]


def test_evaluate_and_prepare_keep_out_of_their_inputs(checkpoint, tmp_path):
    from fusion.data.prepare import prepare
    from fusion.eval.evaluate import evaluate

    cache = tmp_path / "cache"
    cache.mkdir()
    with pytest.raises(OutputError, match="out .*lies inside the input"):
        evaluate(checkpoint, cache, cache / "results")
    footage = tmp_path / "footage"
    (footage / "a").mkdir(parents=True)
    with pytest.raises(OutputError, match="overlap"):
        prepare(footage, footage / "cache")


def test_failed_encoder_keeps_the_previous_render(tmp_path, monkeypatch):
    """An encoder that fails (here: given a pixel format it cannot take) raises and leaves the old file's bytes."""
    out = tmp_path / "render.mp4"
    with VideoWriter(out) as video:
        video.write(np.full((32, 32, 3), 100, np.uint8))
    before = out.read_bytes()
    monkeypatch.setitem(CODECS, "h264", replace(CODECS["h264"], pix_fmt="rgb48le"))
    with pytest.raises(WriteError, match=r"render\.mp4: writing h264 failed \(.+\); nothing was replaced"):
        with VideoWriter(out) as video:
            for _ in range(5):
                video.write(np.full((32, 32, 3), 200, np.uint8))
    assert out.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["render.mp4"]


@pytest.fixture
def small_disk(tmp_path):
    """A 600 KiB tmpfs: a real full disk (needs root; CI runs as root)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(mount)], capture_output=True,
                            text=True)
    if result.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip()}); the failed-encoder test covers the writer")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_full_disk_video_says_so_and_keeps_the_previous_render(small_disk):
    out = small_disk / "render.mp4"
    with VideoWriter(out) as video:
        video.write(np.full((32, 32, 3), 100, np.uint8))
    before = out.read_bytes()
    noise = np.random.default_rng(0).integers(0, 255, (40, 256, 256, 3), dtype=np.uint8)
    with pytest.raises(DiskFullError, match=r"disk full: writing .*render\.mp4 needs more than 0\.[56] MB"):
        with VideoWriter(out, frames=len(noise)) as video:
            for frame in noise:
                video.write(frame)
    assert out.read_bytes() == before and [p.name for p in small_disk.iterdir()] == ["render.mp4"]


def test_full_disk_sequence_keeps_the_previous_render(checkpoint, photos, small_disk, tmp_path):
    plates = tmp_path / "plates"
    noise = np.random.default_rng(1).integers(0, 255, (512, 512, 3), dtype=np.uint8)
    for i in range(3):  # ~800 KB of PNGs: more than the disk holds
        write_image(plates / f"p.{i}.png", noise if i else photos["hopper"])
    out = small_disk / "swapped"
    for i in range(3):
        write_image(out / f"p.{i}.png", np.zeros((8, 8, 3), np.uint8))
    before = digest(out)
    with pytest.raises(DiskFullError, match="disk full: writing .*swapped"):
        swap(plates, out, checkpoint, "hopper", SwapOptions(overwrite=True))
    assert digest(out) == before and [p.name for p in small_disk.iterdir()] == ["swapped"]
    assert sorted(p.name for p in out.iterdir()) == ["p.0.png", "p.1.png", "p.2.png"]


def test_files_get_the_umask_permissions(tmp_path):
    old = os.umask(0o002)
    try:
        write_image(tmp_path / "a.png", np.zeros((4, 4, 3), np.uint8))
        with VideoWriter(tmp_path / "v.mp4") as video:
            video.write(np.zeros((16, 16, 3), np.uint8))
        with StagedOutputs() as staged:
            staged.path(tmp_path / "s" / "b.txt").write_text("b")
            staged.folder(tmp_path / "seq", (".png",))
            staged.path(tmp_path / "seq" / "c.png").write_text("c")
        assert file_mode() == 0o664
        files = (tmp_path / "a.png", tmp_path / "v.mp4", tmp_path / "s" / "b.txt", tmp_path / "seq" / "c.png")
        assert {oct(p.stat().st_mode & 0o777) for p in files} == {"0o664"}
        assert oct((tmp_path / "seq").stat().st_mode & 0o777) == "0o775"  # a staged folder is not left 0o700
    finally:
        os.umask(old)


def test_the_paper_preset_on_eight_gpus_is_refused_before_training(compose):
    from omegaconf import OmegaConf

    plan = phases(OmegaConf.to_object(compose("train", ["experiment=paper"], root=Path("/tmp")).curriculum))
    check_world_size(plan, 4)
    with pytest.raises(ScheduleError, match=r"curriculum\.stages\.6\.batch_size=4 .*curriculum\.finetune\.batch_size=4 "
                                            r".*divide over the 8 training processes"):
        check_world_size(plan, 8)


@pytest.mark.parametrize("overrides,error,message", [
    (["trainer=ddp_cpu", "curriculum.stages.1.batch_size=3", "curriculum.finetune.batch_size=2"], ScheduleError,
     r"curriculum\.stages\.1\.batch_size=3 \(e\.g\. 2\)"),
    (["crop.resolution=-1"], ConfigError, r"crop\.resolution=-1: crops must be at least 16 px"),
    (["data.holdout=1.5"], ConfigError, r"data\.holdout=1\.5"),
    (["footage=ONE"], ConfigError, "at least two identities"),
    (["footage=MISSING"], FileNotFoundError, "footage folder .*missing does not exist"),
    (["ckpt_path=MISSING.ckpt"], CheckpointError, r"missing\.ckpt does not exist"),
])
def test_bad_training_setups_are_refused_before_any_work(tmp_path, photos, overrides, error, message, compose, fast):
    from fusion.training.run import train

    one = tmp_path / "one"
    write_image(one / "solo" / "f0.png", photos["hopper"])
    overrides = [o.replace("ONE", str(one)).replace("MISSING", str(tmp_path / "missing")) for o in overrides]
    with pytest.raises(error, match=message):
        train(compose("train", fast + overrides, root=tmp_path))
    assert not (tmp_path / "data").exists() and not (tmp_path / "run").exists()


def test_prepare_refuses_a_bad_resolution_without_writing(tmp_path):
    result = subprocess.run([sys.executable, "prepare.py", f"cache_folder={tmp_path / 'cache'}", "crop.resolution=-1",
                             f"paths.root_dir={tmp_path}"],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "crop.resolution=-1: crops must be at least 16 px" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "cache").exists()
    assert not (tmp_path / "data").exists()  # refused before the demo footage was made


def test_full_disk_in_prepare_is_named(photos, small_disk, tmp_path):
    from fusion.data.prepare import prepare
    from fusion.data.prepare_options import PrepareOptions

    for i in range(3):
        write_image(tmp_path / "footage" / f"p{i % 2}" / f"f{i}.png", np.roll(photos["hopper"], 3 * i, axis=1))
    with pytest.raises(DiskFullError, match=r"disk full: writing .*cache/p\d/crops/.*needs about [\d.]+ MB"):
        prepare(tmp_path / "footage", small_disk / "cache", CropSettings(resolution=1024, landmarks="dlib", jitter=1),
                PrepareOptions(workers=1, contact_sheet=0))


def test_train_command_line_names_a_missing_checkpoint(tmp_path):
    result = subprocess.run([sys.executable, "train.py", f"ckpt_path={tmp_path / 'gone.ckpt'}", "logger=none",
                             f"paths.root_dir={tmp_path}"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "train failed: ckpt_path=" in result.stderr and "gone.ckpt does not exist" \
        in result.stderr and "Traceback" not in result.stderr
