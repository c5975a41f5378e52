"""Training end to end on the demo footage: phases, freezing, resume, DDP, divergence, SLURM.

Every test that trains (`trained`, module-scoped in conftest.py) is in this module, so the run happens once."""

import os
import re
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pytest
import torch

from fusion.training.schedule import phases

REPO = Path(__file__).resolve().parents[2]


def state(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=False)["state_dict"]


def test_phase_a_trains_only_the_new_level(trained):
    folder, _ = trained
    before, after = state(folder / "stage0-B.ckpt"), state(folder / "stage1-A.ckpt")
    old = [k for k in before if k.startswith("net.")]
    new = [k for k in after if k.startswith("net.") and k not in before]
    assert old and new
    for key in old:
        assert torch.equal(before[key], after[key]), f"{key} changed in phase A"
    assert all(not torch.equal(after[key], state(folder / "stage1-B.ckpt")[key]) for key in new)
    saved = torch.load(folder / "stage1-A.ckpt", weights_only=False)["fusion"]
    assert saved["growth"] == ["full"]
    assert saved["crop"]["resolution"] == 64 and saved["crop"]["face_scale"] == 0.5  # for the swap's alignment


def test_phase_b_trains_everything(trained):
    """Everything in use changes; only the previous level's fromRGB/toRGB, kept
    for the fade-in and unused once it is over (alpha = 1), stay as they were."""
    folder, _ = trained
    a, b = state(folder / "stage1-A.ckpt"), state(folder / "stage1-B.ckpt")
    unchanged = {k for k in a if k.startswith("net.") and torch.equal(a[k], b[k])}
    fade_only = {k for k in a if re.match(r"net\.(from_rgb|decoders\.\d+\.to_rgb)\.2\.", k)}
    assert len(fade_only) == 6 and unchanged == fade_only


def test_outputs_of_a_run(trained, demo_cache):
    folder, metrics = trained
    assert 0 < metrics["val/ssim"] <= 1 and {"val/ssim/hopper", "val/ssim/astronaut"} <= set(metrics)
    assert (folder / "last.ckpt").is_file() and not list(folder.glob("last-v*.ckpt"))
    previews = sorted((demo_cache / "run" / "previews").glob("*.png"))
    assert list(dict.fromkeys(p.name.split("-step")[0] for p in previews))[:2] == ["stage0-B", "stage1-A"]


def test_every_phase_is_validated_at_its_last_step(trained, demo_cache, compose, fast):
    """val_every=4 does not divide most phases' steps (6, 4, 4, 2): the end is validated all the same."""
    from omegaconf import OmegaConf

    plan = phases(OmegaConf.to_object(compose("train", fast, root=demo_cache).curriculum))
    last: dict[str, int] = {}
    for preview in (demo_cache / "run" / "previews").glob("*.png"):
        label, step = preview.stem.rsplit("-step", 1)
        last[label] = max(last.get(label, 0), int(step))
    assert last == {phase.label: phase.steps for phase in plan}


class Kill(L.Callback):
    def __init__(self, phase: str, step: int):
        self.phase, self.step = phase, step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if pl_module.phase.label == self.phase and trainer.global_step == self.step:
            raise RuntimeError("simulated crash")


def test_resume_matches_an_uninterrupted_run(trained, demo_cache, tmp_path, compose, fast):
    """Crash in phase stage1-A at step 3; resume from its step-2 checkpoint."""
    from fusion.training.run import train

    cfg = compose("train", fast + [f"paths.run_dir={tmp_path / 'run'}"], root=demo_cache)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(cfg, extra_callbacks=[Kill("stage1-A", 3)])
    checkpoint = tmp_path / "run" / "checkpoints" / "stage1-A-step000002.ckpt"
    assert checkpoint.is_file() and not (tmp_path / "run" / "checkpoints" / "stage1-B.ckpt").exists()
    train(compose("train", fast + [f"paths.run_dir={tmp_path / 'other'}", f"ckpt_path={checkpoint}"], root=demo_cache))
    ours, reference = state(tmp_path / "run" / "checkpoints" / "last.ckpt"), state(trained[0] / "last.ckpt")
    assert ours.keys() == reference.keys()
    for key in reference:
        torch.testing.assert_close(ours[key], reference[key], atol=1e-6, rtol=0)


def test_checkpoint_from_another_curriculum_is_rejected(trained, demo_cache, tmp_path, compose, fast):
    from fusion.training.run import train

    # Same phase index, but this curriculum grows decoder-only into it.
    cfg = compose("train", fast + [f"ckpt_path={trained[0] / 'stage1-A.ckpt'}", f"paths.run_dir={tmp_path}",
                                    "curriculum.stages.1.input_resolution=16", "curriculum.finetune.input_resolution=16"],
                  root=demo_cache)
    with pytest.raises(ValueError, match="another curriculum"):
        train(cfg)


@pytest.mark.slow
def test_ddp_ranks_stay_identical_through_growth_and_freezing(demo_cache, tmp_path, fast):
    """Two gloo processes through stage0-B, growth, stage1-A (frozen), stage1-B, finetune."""
    run = tmp_path / "ddp"
    result = subprocess.run(
        [sys.executable, str(REPO / "train.py"), *fast, "trainer=ddp_cpu", "logger=none",
         f"paths.root_dir={demo_cache}", f"hydra.run.dir={run}"],
        capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    log = (run / "train.log").read_text()
    digests = re.findall(r"(stage\S+) parameter digest per rank: \[(.*?)\]", log)
    assert [label for label, _ in digests] == ["stage0-B", "stage1-A", "stage1-B", "stage2-finetune"]
    for label, ranks in digests:
        values = re.findall(r"'(\w+)'", ranks)
        assert len(values) == 2 and values[0] == values[1], (label, values)


@pytest.mark.slow
def test_train_py_runs_a_two_stage_curriculum(demo_cache, tmp_path, fast):
    run = tmp_path / "cli"
    result = subprocess.run(
        [sys.executable, str(REPO / "train.py"), *fast, f"paths.root_dir={demo_cache}", f"hydra.run.dir={run}"],
        capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (run / "checkpoints" / "stage2-finetune.ckpt").is_file()
    assert (run / "csv").is_dir() and list((run / "previews").glob("stage2-finetune-*.png"))
    console = result.stdout + result.stderr  # not a terminal: progress comes as log lines
    plan = ["stage0-B", "stage1-A", "stage1-B", "stage2-finetune"]
    assert re.findall(r"- (stage\S+): \d+ px, .* steps at lr .*, trains ", console) == plan
    assert "trains the new level only" in console and "about " in console  # what trains; a time once measured
    assert len(re.findall(r"stage1-B 32 px: \d+/4 \(\d+%\) step, .* step/s", console)) >= 2
    for noise in ("GPU available", "TPU available", "Tip:", "LeafSpec", "exists and is not empty", "\r"):
        assert noise not in console, noise
    summary = result.stdout.splitlines()[-4:]
    assert summary[0].startswith("trained in ") and summary[0].endswith(str(run / "checkpoints" / "last.ckpt"))
    assert summary[2].startswith("held-out masked SSIM ") and summary[3].startswith("try: python swap.py checkpoint=")


class BlowUp(L.Callback):
    """Scale every weight by 50 after a phase's first step: a stand-in for an lr far too high."""

    def __init__(self, phase: str):
        self.phase = phase

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if pl_module.phase.label == self.phase and trainer.global_step == 1:
            with torch.no_grad():
                for parameter in pl_module.net.parameters():
                    parameter.mul_(50)


def test_a_diverged_phase_stops_the_run_with_what_to_do(trained, demo_cache, tmp_path, compose, fast):
    from fusion.training.divergence import TrainingDiverged
    from fusion.training.run import train

    cfg = compose("train", fast + [f"paths.run_dir={tmp_path / 'run'}", "divergence.min_best=0"], root=demo_cache)
    with pytest.raises(TrainingDiverged, match=r"stage1-B diverged: .*curriculum\.stages\.1\.lr=0\.001"
                                               r".*ckpt_path=.*stage1-A\.ckpt"):
        train(cfg, extra_callbacks=[BlowUp("stage1-B")])
    assert not (tmp_path / "run" / "checkpoints" / "stage1-B.ckpt").exists()


def test_under_slurm_lightning_requeue_is_off(monkeypatch):
    """Its hpc_ckpt_N.ckpt would be loaded by every later phase's fit (one fit per phase)."""
    from lightning.pytorch.plugins.environments import SLURMEnvironment

    from fusion.training.run import cluster_plugins

    for name in ("SLURM_NTASKS", "SLURM_JOB_NAME"):
        monkeypatch.delenv(name, raising=False)
    assert cluster_plugins() == []
    monkeypatch.setenv("SLURM_NTASKS", "1")
    monkeypatch.setenv("SLURM_JOB_NAME", "fusion-train")
    (environment,) = cluster_plugins()
    assert isinstance(environment, SLURMEnvironment) and environment.auto_requeue is False


class Signal(L.Callback):
    """Send `signum` to this process after step `step` of `phase`, as a scheduler or Ctrl-C would."""

    def __init__(self, phase: str, step: int, signum: int):
        self.phase, self.step, self.signum = phase, step, signum

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if pl_module.phase.label == self.phase and trainer.global_step == self.step:
            os.kill(os.getpid(), self.signum)


def test_ctrl_c_saves_at_a_step_boundary_and_resumes_to_the_same_weights(trained, demo_cache, tmp_path, compose, fast):
    from fusion.errors import RunStopped
    from fusion.training.run import train

    cfg = compose("train", fast + [f"paths.run_dir={tmp_path / 'run'}"], root=demo_cache)
    with pytest.raises(RunStopped, match=r"stopped by SIGINT .*ckpt_path=.*last\.ckpt"):
        train(cfg, extra_callbacks=[Signal("stage1-B", 1, signal.SIGINT)])
    saved = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert (saved["fusion"]["phase"], saved["global_step"]) == (2, 2)  # stage1-B, after the step the signal fell in
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    train(cfg)  # the same run folder: resumes from its own last.ckpt
    ours, reference = state(tmp_path / "run" / "checkpoints" / "last.ckpt"), state(trained[0] / "last.ckpt")
    for key in reference:
        torch.testing.assert_close(ours[key], reference[key], atol=1e-6, rtol=0)


def test_the_launchers_preemption_handler_runs_once_after_the_save(trained, demo_cache, tmp_path, compose, fast):
    """submitit's handler (here a stand-in) requeues and exits; it must find last.ckpt already written."""
    from fusion.errors import RunStopped
    from fusion.training.run import train

    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    calls = []
    previous = signal.signal(signal.SIGUSR2, lambda signum, frame: calls.append(
        torch.load(last, map_location="cpu", weights_only=False)["global_step"]))
    try:
        with pytest.raises(RunStopped, match="stopped by SIGUSR2"):
            train(compose("train", fast + [f"paths.run_dir={tmp_path / 'run'}"], root=demo_cache),
                  extra_callbacks=[Signal("stage0-B", 2, signal.SIGUSR2)])
        assert calls == [3]
        assert signal.getsignal(signal.SIGUSR2) is not previous  # the launcher's handler is back in place
    finally:
        signal.signal(signal.SIGUSR2, previous)


class SignalInValidation(L.Callback):
    """Send `signum` to this process as the first validation batch of `phase` begins: in its fit at step
    `step`, or (`step` None) in its closing validation."""

    def __init__(self, phase: str, step: int | None, signum: int):
        self.phase, self.step, self.signum = phase, step, signum

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        fitting = trainer.state.fn == "fit"
        if pl_module.phase.label == self.phase and batch_idx == 0 and fitting == (self.step is not None) \
                and (self.step is None or trainer.global_step == self.step):
            os.kill(os.getpid(), self.signum)


def resumes_to_the_reference(cfg, trained) -> None:
    from fusion.training.run import train

    train(cfg)  # the same run folder: resumes from its own last.ckpt
    ours, reference = state(Path(cfg.paths.run_dir) / "checkpoints" / "last.ckpt"), state(trained[0] / "last.ckpt")
    for key in reference:
        torch.testing.assert_close(ours[key], reference[key], atol=1e-6, rtol=0)


@pytest.mark.slow
@pytest.mark.parametrize("step", [4, None], ids=["in the fit", "in the closing validation"])
def test_a_signal_during_validation_stops_at_the_next_validation_batch(trained, demo_cache, tmp_path, compose, fast,
                                                                       step):
    """Not after the rest of the validation and the next step: in a fit, saved at the step validation followed;
    in a phase's closing validation, the phase's closing checkpoints are saved first. Both resume exactly."""
    from fusion.errors import RunStopped
    from fusion.training.run import train

    cfg = compose("train", fast + [f"paths.run_dir={tmp_path / 'run'}"], root=demo_cache)
    started = []
    counter = type("Count", (L.Callback,), {"on_validation_batch_start": lambda self, trainer, *args:
                                             started.append(trainer.global_step)})()
    with pytest.raises(RunStopped, match=r"stopped by SIGUSR2 (after saving|at) .*last\.ckpt"):
        train(cfg, extra_callbacks=[SignalInValidation("stage0-B", step, signal.SIGUSR2), counter])
    saved = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert (saved["fusion"]["phase"], saved["global_step"]) == (0, step or 6)
    assert started[-1] == (step or 6) and started.count(step or 6) == 1  # one validation batch after the signal
    assert (tmp_path / "run" / "checkpoints" / "stage0-B.ckpt").is_file() == (step is None)
    resumes_to_the_reference(cfg, trained)


@pytest.mark.slow
def test_a_signal_while_a_phase_builds_its_packs_stops_before_the_next_pack(trained, demo_cache, tmp_path, compose,
                                                                             fast, monkeypatch):
    """Between packs, `last.ckpt` (the end of the phase before) is where to go on from: nothing is saved, the
    held-out pack is not built, and the resume ends with the uninterrupted weights."""
    import fusion.data.datamodule as datamodule
    from fusion.errors import RunStopped
    from fusion.training.run import train

    built, real = [], datamodule.build_pack

    def build_pack(cache, identities, spec, *args, **kwargs):
        built.append((spec.split, spec.resolution))
        if (spec.split, spec.resolution) == ("train", 32):
            os.kill(os.getpid(), signal.SIGUSR2)
        return real(cache, identities, spec, *args, **kwargs)

    monkeypatch.setattr(datamodule, "build_pack", build_pack)
    cfg = compose("train", fast + [f"paths.run_dir={tmp_path / 'run'}"], root=demo_cache)
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    with pytest.raises(RunStopped, match=r"stopped by SIGUSR2 at .*last\.ckpt"):
        train(cfg)
    assert built[-1] == ("train", 32) and ("val", 32) not in built
    saved = torch.load(last, map_location="cpu", weights_only=False)
    assert (saved["fusion"]["phase"], saved["global_step"]) == (0, 6)  # stage0-B's end, saved when it ended
    monkeypatch.setattr(datamodule, "build_pack", real)
    resumes_to_the_reference(cfg, trained)


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (Linux /proc)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    found = [int(c) for c in children.read_text().split()] if children.exists() else []
    return found + [d for child in found for d in descendants(child)]


@pytest.mark.slow
def test_a_preempted_submitit_job_is_requeued_and_ends_with_the_same_weights(demo_cache, tmp_path, fast):
    """hydra/launcher=submitit_local, SIGUSR2 to the running job (what SLURM sends before preemption or the
    time limit): training saves, submitit requeues, the new process resumes in the same run folder."""
    # Seconds of stage0-B to signal into, validated and saved every 100 and 10 steps (FAST's 4 and 2 would make
    # 30 validations and 60 checkpoints of each of the two runs' 120 steps).
    longer = [*fast, "logger=none", "curriculum.stages.0.steps_b=120", "val_every=100", "checkpoint_every=10"]
    outputs = tmp_path / "outputs"
    launcher = subprocess.Popen(
        [sys.executable, str(REPO / "train.py"), "-m", "hydra/launcher=submitit_local", *longer,
         f"paths.root_dir={demo_cache}", f"paths.output_dir={outputs}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 600
        while not list(outputs.glob("train/multirun/*/0/checkpoints/stage0-B-step*.ckpt")):
            assert launcher.poll() is None and time.monotonic() < deadline, launcher.stdout.read()[-3000:]
            time.sleep(0.1)
        (job,) = [pid for pid in descendants(launcher.pid)
                  if b"submitit.core._submit" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        os.kill(job, signal.SIGUSR2)
        output, _ = launcher.communicate(timeout=600)
    finally:
        launcher.kill()
    assert launcher.returncode == 0, output[-3000:]
    (run,) = outputs.glob("train/multirun/*/0")
    log = (run / "train.log").read_text()
    assert "stopped by SIGUSR2" in log and "resuming stage0-B at step" in log
    # The reference runs in a process of its own too: this one's thread settings may differ after other tests,
    # and a hundred steps amplify the last bits of a sum order into visible differences.
    subprocess.run([sys.executable, str(REPO / "train.py"), *longer, f"paths.root_dir={demo_cache}",
                    f"hydra.run.dir={tmp_path / 'uninterrupted'}"], check=True, capture_output=True, timeout=600)
    ours = state(run / "checkpoints" / "last.ckpt")
    reference = state(tmp_path / "uninterrupted" / "checkpoints" / "last.ckpt")
    for key in reference:
        torch.testing.assert_close(ours[key], reference[key], atol=1e-6, rtol=0)


def wandb_records(run: Path) -> list:
    """The records of an offline W&B run (`run-<id>.wandb`: W&B's 7-byte header, then LevelDB-log blocks of
    protobuf records), read here because wandb ships no reader for them."""
    from wandb.proto import wandb_internal_pb2

    data, position, pending, found = next(run.glob("run-*.wandb")).read_bytes(), 7, b"", []
    while position + 7 <= len(data):
        if 32768 - position % 32768 < 7:  # a block's tail too short for a header is padding
            position += 32768 - position % 32768
            continue
        length, kind = struct.unpack("<HB", data[position + 4:position + 7])
        if length == kind == 0 or position + 7 + length > len(data):  # the end, or a record still being written
            break
        payload, position = data[position + 7:position + 7 + length], position + 7 + length
        pending = payload if kind in (1, 2) else pending + payload
        if kind in (1, 4):  # a whole record, or the last piece of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            found.append(record)
    return found


def finished_wandb_records(run: Path, timeout: float = 60) -> list:
    """`wandb_records` once the run's exit record is written: wandb-core writes the file in its own process,
    and may still be writing when `wandb.finish()` returns."""
    deadline = time.monotonic() + timeout
    while True:
        records = wandb_records(run)
        if any(r.WhichOneof("record_type") == "exit" for r in records) or time.monotonic() > deadline:
            return records
        time.sleep(0.2)


@pytest.mark.slow
def test_a_resumed_run_continues_its_wandb_run(demo_cache, tmp_path, compose, fast, monkeypatch):
    """Offline W&B: the second process (here: after wandb.finish) logs to the same run id, with the config,
    the curriculum's metrics and labelled preview images."""
    import wandb

    from fusion.errors import RunStopped
    from fusion.training.run import train

    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = compose("train", [*fast, "logger=wandb", "trainer.log_every_n_steps=1", f"paths.run_dir={tmp_path / 'run'}"],
                  root=demo_cache)
    with pytest.raises(RunStopped):
        train(cfg, extra_callbacks=[Signal("stage1-A", 1, signal.SIGINT)])
    wandb.finish()
    train(cfg)
    wandb.finish()
    runs = sorted((tmp_path / "run" / "wandb").glob("offline-run-*"))
    run_id = (tmp_path / "run" / "wandb_run_id").read_text()
    assert len(runs) == 2 and all(run.name.endswith(run_id) or run.name.endswith(f"{run_id}-1") for run in runs)
    steps = []
    for run, previews in zip(runs, (2, 3)):  # stage0-B at steps 4 and 6; stage1-A, stage1-B, finetune
        records = finished_wandb_records(run)
        assert {r.run.run_id for r in records if r.WhichOneof("record_type") == "run"} == {run_id}
        config = {u.key for r in records if r.WhichOneof("record_type") == "config" for u in r.config.update}
        assert {"curriculum", "model", "trainer", "crop"} <= config
        keys = {i.key or "/".join(i.nested_key) for r in records if r.WhichOneof("record_type") == "history"
                for i in r.history.item}
        assert {"train/loss", "val/ssim", "val/ssim/astronaut", "curriculum/resolution", "preview/captions"} <= keys
        assert len(list((run / "files" / "media" / "images").glob("preview_*.png"))) == previews
        steps += [float(i.value_json) for r in records if r.WhichOneof("record_type") == "history"
                  for i in r.history.item if (i.key or "/".join(i.nested_key)) == "trainer/global_step"]
    # One axis across the phases and the resume (16 steps in all): no phase starts again at 0; Lightning
    # itself logs a step's training metrics (step - 1) after a validation run at that step (step).
    assert max(steps) >= 15 and all(later >= earlier - 1 for earlier, later in zip(steps, steps[1:])), steps
