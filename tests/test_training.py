"""Training end to end on the demo footage: phases, freezing, resume, DDP, schedules."""

import re
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch

from fusion.training.schedule import Curriculum, ScheduleError, Stage, phases

REPO = Path(__file__).resolve().parents[1]
FAST = ["curriculum=tiny", "logger=csv", "model.net.width_multiplier=0.125", "cache.resolution=64",
        "val_every=4", "checkpoint_every=2", "trainer.precision=32-true"]


def compose(tmp: Path, overrides: list[str]):
    from hydra import compose as hydra_compose, initialize_config_dir

    from fusion.config import register_configs

    register_configs()
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        return hydra_compose("train", overrides=[f"paths.root_dir={tmp}", f"paths.run_dir={tmp / 'run'}", *overrides])


def state(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=False)["state_dict"]


@pytest.fixture(scope="module")
def demo_cache(tmp_path_factory):
    """A prepared demo cache shared by the tests (prepare runs once)."""
    root = tmp_path_factory.mktemp("demo")
    from fusion.data.cache import CacheSettings, cache_location
    from fusion.data.prepare import PrepareOptions, prepare
    from fusion.demo.footage import make_demo_footage

    footage = make_demo_footage(root / "data" / "demo" / "footage")
    settings = CacheSettings(resolution=64, landmarks="dlib")
    prepare(footage, cache_location(root / "data" / "cache", settings), settings,
            PrepareOptions(contact_sheet=0))
    return root


@pytest.fixture(scope="module")
def trained(demo_cache):
    from fusion.training.run import train

    metrics = train(compose(demo_cache, FAST))
    return demo_cache / "run" / "checkpoints", metrics


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
    assert saved["growth"] == [False]
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


def test_every_phase_is_validated_at_its_last_step(trained, demo_cache):
    """val_every=4 does not divide most phases' steps (6, 4, 4, 2): the end is validated all the same."""
    from omegaconf import OmegaConf

    plan = phases(OmegaConf.to_object(compose(demo_cache, FAST).curriculum))
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


def test_resume_matches_an_uninterrupted_run(trained, demo_cache, tmp_path):
    """Crash in phase stage1-A at step 3; resume from its step-2 checkpoint."""
    from fusion.training.run import train

    cfg = compose(demo_cache, FAST + [f"paths.run_dir={tmp_path / 'run'}"])
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(cfg, extra_callbacks=[Kill("stage1-A", 3)])
    checkpoint = tmp_path / "run" / "checkpoints" / "stage1-A-step000002.ckpt"
    assert checkpoint.is_file() and not (tmp_path / "run" / "checkpoints" / "stage1-B.ckpt").exists()
    train(compose(demo_cache, FAST + [f"paths.run_dir={tmp_path / 'other'}", f"ckpt_path={checkpoint}"]))
    ours, reference = state(tmp_path / "run" / "checkpoints" / "last.ckpt"), state(trained[0] / "last.ckpt")
    assert ours.keys() == reference.keys()
    for key in reference:
        torch.testing.assert_close(ours[key], reference[key], atol=1e-6, rtol=0)


def test_checkpoint_from_another_curriculum_is_rejected(trained, demo_cache, tmp_path):
    from fusion.training.run import train

    # Same phase index, but this curriculum grows decoder-only into it.
    cfg = compose(demo_cache, FAST + [f"ckpt_path={trained[0] / 'stage1-A.ckpt'}", f"paths.run_dir={tmp_path}",
                                      "curriculum.stages.1.input_resolution=16", "curriculum.finetune.input_resolution=16"])
    with pytest.raises(ValueError, match="another curriculum"):
        train(cfg)


@pytest.mark.parametrize("change,message", [
    ({1: {"resolution": 48}}, "powers of two"),
    ({1: {"resolution": 64}}, "must double"),
    ({1: {"quantity": 50}}, "quantities never increase"),
    ({0: {"steps_a": 5}}, "phase A"),
    ({1: {"input_resolution": 8}}, "must equal the resolution"),
    ({1: {"fade_steps": 9}}, "fade_steps"),
])
def test_invalid_schedules_are_rejected(change, message):
    stages = [Stage(16, 20, 4, 1e-3, 0, 6), Stage(32, 12, 4, 1e-3, 4, 4)]
    for index, fields in change.items():
        for key, value in fields.items():
            setattr(stages[index], key, value)
    with pytest.raises(ScheduleError, match=message):
        phases(Curriculum(stages))


def test_experiment_overrides_the_defaults(tmp_path):
    cfg = compose(tmp_path, ["experiment=clips", "footage=/footage"])
    assert (cfg.task_name, cfg.val_every, cfg.data.footage) == ("clips", 300, "/footage")
    assert cfg.curriculum.stages[-1].resolution == 128


def test_curriculum_typo_is_an_error(tmp_path):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="stepsb"):
        compose(tmp_path, ["curriculum.stages.0.stepsb=5"])


def test_decoder_only_growth_must_be_last():
    stages = [Stage(16, 20, 4, 1e-3, 0, 6), Stage(32, 12, 4, 1e-3, 4, 4, input_resolution=16),
              Stage(64, 12, 4, 1e-3, 4, 4, input_resolution=32)]
    with pytest.raises(ScheduleError, match="only the last growth"):
        phases(Curriculum(stages))
    plan = phases(Curriculum(stages[:2], Stage(32, 10, 4, 1e-4, 0, 2, input_resolution=16)))
    assert [p.growth for p in plan] == [(), (True,), (True,), (True,)]
    with pytest.raises(ScheduleError, match="lower"):
        phases(Curriculum(stages[:2], Stage(32, 10, 4, 1e-3, 0, 2, input_resolution=16)))


@pytest.mark.slow
def test_ddp_ranks_stay_identical_through_growth_and_freezing(demo_cache, tmp_path):
    """Two gloo processes through stage0-B, growth, stage1-A (frozen), stage1-B, finetune."""
    run = tmp_path / "ddp"
    result = subprocess.run(
        [sys.executable, str(REPO / "train.py"), *FAST, "trainer=ddp_cpu", "logger=none",
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
def test_train_py_runs_a_two_stage_curriculum(demo_cache, tmp_path):
    run = tmp_path / "cli"
    result = subprocess.run(
        [sys.executable, str(REPO / "train.py"), *FAST, f"paths.root_dir={demo_cache}", f"hydra.run.dir={run}"],
        capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (run / "checkpoints" / "stage2-finetune.ckpt").is_file()
    assert (run / "csv").is_dir() and list((run / "previews").glob("stage2-finetune-*.png"))


def _validate(guard, ssim: float, resolution: int = 32, loss: float = 0.5, step: int = 10):
    """One validation end as Lightning calls it, on a single process."""
    from types import SimpleNamespace

    trainer = SimpleNamespace(sanity_checking=False, global_step=step, should_stop=False,
                              callback_metrics={"val/ssim": torch.tensor(ssim), "train/loss": torch.tensor(loss)},
                              strategy=SimpleNamespace(reduce_boolean_decision=lambda decision, all: decision))
    guard.on_validation_end(trainer, SimpleNamespace(net=SimpleNamespace(output_resolution=resolution)))
    return trainer.should_stop


def test_divergence_guard_stops_on_a_collapse_not_on_noise():
    from fusion.training.divergence import DivergenceGuard

    guard = DivergenceGuard(drop=0.5, min_best=0.3)
    assert not any(_validate(guard, s) for s in (0.2, 0.08, 0.5, 0.78, 0.6, 0.45))  # 0.2 -> 0.08: below min_best
    assert not _validate(guard, 0.2, resolution=64)  # a new resolution starts afresh
    assert _validate(guard, 0.17, step=40)  # the clips_quick collapse: 0.78 -> 0.17 at 32 px
    assert guard.reason == "held-out val/ssim fell from 0.7800 to 0.1700 at 32 px (more than 50%) at step 40"
    assert _validate(DivergenceGuard(), 0.5, loss=float("nan"))
    assert _validate(DivergenceGuard(), float("nan"))


class BlowUp(L.Callback):
    """Scale every weight by 50 after a phase's first step: a stand-in for an lr far too high."""

    def __init__(self, phase: str):
        self.phase = phase

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if pl_module.phase.label == self.phase and trainer.global_step == 1:
            with torch.no_grad():
                for parameter in pl_module.net.parameters():
                    parameter.mul_(50)


def test_a_diverged_phase_stops_the_run_with_what_to_do(trained, demo_cache, tmp_path):
    from fusion.training.divergence import TrainingDiverged
    from fusion.training.run import train

    cfg = compose(demo_cache, FAST + [f"paths.run_dir={tmp_path / 'run'}", "divergence.min_best=0"])
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


def test_weight_average_follows_the_ramped_decay_and_grows_with_the_net(tmp_path):
    from fusion.swap.loader import load_swap_model
    from fusion.training.callback import enter_phase
    from omegaconf import OmegaConf

    from fusion.training.module import FusionModule
    from fusion.training.schedule import phases

    module = FusionModule(["a", "b"], {"resolution": 16, "width_multiplier": 1 / 32}, ema_decay=0.9)
    plan = phases(OmegaConf.to_object(compose(tmp_path, FAST).curriculum))
    enter_phase(module, plan[1])  # stage1-A: grown to 32 px
    assert module.net_ema.state_dict().keys() == module.net.state_dict().keys()
    for ema, raw in zip(module.net_ema.newest_parameters(), module.net.newest_parameters()):
        assert torch.equal(ema, raw) and not ema.requires_grad
    with torch.no_grad():
        for ema, raw in zip(module.net_ema.parameters(), module.net.parameters()):
            ema.fill_(0.0), raw.fill_(1.0)
    expected = 0.0
    for step in range(1, 31):
        module.on_train_batch_end(None, {}, 0)
        decay = min(0.9, (1 + step) / (10 + step))  # 0.18, 0.25, ... then 0.9 from step 80 on
        expected = decay * expected + (1 - decay)
    weight = next(module.net_ema.parameters())
    torch.testing.assert_close(weight, torch.full_like(weight, expected))
    assert 0.99 < expected < 1  # the ramp let the average reach the trained weights within a short phase
    module.crop_settings = {"resolution": 64, "landmarks": "dlib"}
    saved = {"state_dict": module.state_dict()}
    module.on_save_checkpoint(saved)
    torch.save(saved, tmp_path / "ema.ckpt")
    loaded = next(load_swap_model(tmp_path / "ema.ckpt").net.parameters())
    torch.testing.assert_close(loaded, weight)  # a swap gets the average, not the raw weights (all 1)


def test_checkpoints_from_before_the_average_still_load():
    from fusion.training.module import FusionModule

    old = FusionModule(["a", "b"], {"resolution": 16, "width_multiplier": 1 / 32}, ema_decay=None)
    state = {k: v for k, v in old.state_dict().items() if k != "ema_steps"}
    assert not any(k.startswith("net_ema.") for k in state)
    new = FusionModule(["a", "b"], {"resolution": 16, "width_multiplier": 1 / 32, "seed": 1})
    new.load_state_dict(new.with_average(state))
    for ema, raw in zip(new.net_ema.parameters(), old.net.parameters()):
        assert torch.equal(ema, raw)
    old.load_state_dict(old.with_average(new.state_dict()))  # and an average is dropped where none is kept
