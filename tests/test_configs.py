"""Every config group composes and every `_target_` in it builds (as lightning-hydra-template's tests do);
a key that no schema or target takes is refused, naming the keys that are; each command runs in its own folder."""

import re
from pathlib import Path

import hydra
import pytest
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from fusion.config import CONF, register_configs
from fusion.config.schemas import SwapConfig
from fusion.data.cache import CropSettings
from fusion.errors import ConfigError
from fusion.instantiate import build, refuse_unknown_keys, to_schema
from fusion.training.losses import LossWeights
from fusion.training.schedule import phases


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml") if p.stem != "default" or group == "crop")


#: Each entry config with the keys it requires.
REQUIRED = {"prepare": [], "swap": ["checkpoint=x.ckpt", "identity=a", "input=in.mp4", "output=out.mp4"],
            "evaluate": ["checkpoint=x.ckpt", "cache_folder=c"], "export": ["checkpoint=x.ckpt", "identity=a"],
            "coverage": ["checkpoint=x.ckpt", "identity=a", "input=plate.mov"],
            "tune": ["checkpoint=x.ckpt", "identity=a", "shot=plate.mov"], "matte": ["checkpoint=x.ckpt"],
            "color": ["checkpoint=x.ckpt"]}


@pytest.mark.parametrize("name", REQUIRED)
def test_every_entry_point_composes(name, compose):
    cfg = compose(name, REQUIRED[name])
    refuse_unknown_keys(cfg)
    if name == "prepare":
        assert isinstance(build(cfg.crop), CropSettings)


@pytest.mark.parametrize("name", [*REQUIRED, "crop/default"])
def test_each_default_is_written_once(name):
    """A command's YAML (and the cache group's) sets only what its schema does not: the defaults, and what
    each option does, live in the schema's dataclass."""
    differs = {"evaluate": {"output"}, "coverage": {"output"}}.get(name, set())  # the run folder, an interpolation
    restated = sorted(set(OmegaConf.load(CONF / f"{name}.yaml")) - {"defaults"} - differs)
    assert restated == [], f"{name}.yaml restates {restated}: set them in the schema's dataclass"


def test_the_cache_schema_is_the_settings_dataclass(compose):
    """The cache group's defaults are CropSettings' own: what prepare.py composes, prepare() gets by default."""
    assert build(compose("prepare", []).crop) == CropSettings()


@pytest.mark.parametrize("name", ["train", *REQUIRED])
def test_every_command_runs_in_its_own_folder_and_logs_under_its_name(name, tmp_path):
    """The shared hydra/command block: outputs/<command>/<run>/, <command>.log, the working folder kept."""
    register_configs()
    with hydra.initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = hydra.compose(name, [f"paths.root_dir={tmp_path}", *REQUIRED.get(name, [])], return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    assert Path(cfg.hydra.run.dir).parent == tmp_path / "outputs" / name
    assert cfg.hydra.job.name == name and cfg.hydra.job.chdir is False


@pytest.mark.parametrize("option", options("crop"))
def test_cache_options_build(tmp_path, option, compose):
    settings = build(compose("train", [f"crop={option}"], root=tmp_path).crop)
    assert isinstance(settings, CropSettings) and settings.resolution >= 16


@pytest.mark.parametrize("option", options("curriculum"))
def test_curricula_are_valid(tmp_path, option, compose):
    plan = phases(OmegaConf.to_object(compose("train", [f"curriculum={option}"], root=tmp_path).curriculum))
    assert plan[0].resolution == 16 and plan[-1].name in ("B", "finetune")


@pytest.mark.parametrize("option", options("data"))
def test_data_options_build(tmp_path, photos, option, compose):
    for identity in ("a", "b"):
        (tmp_path / "footage" / identity).mkdir(parents=True)
    datamodule = build(compose("train", [f"data={option}", f"footage={tmp_path / 'footage'}"], root=tmp_path).data,
                       _convert_="all")
    assert datamodule.identities == ["a", "b"] and datamodule.cache.parent == tmp_path / "data" / "cache"


@pytest.mark.parametrize("option", options("model"))
def test_model_options_build(tmp_path, option, compose):
    cfg = compose("train", [f"model={option}"], root=tmp_path)
    module = build(cfg.model, _convert_="all", identities=["a", "b"],
                   net={**OmegaConf.to_container(cfg.model.net), "resolution": 16})
    assert module.net.output_resolution == 16 and len(module.net.decoders) == 2


@pytest.mark.parametrize("option", options("model/loss"))
def test_loss_presets_reach_the_loss(tmp_path, option, compose):
    """Each loss preset's weights reach FaceLoss; a preset with MS-SSIM uses it from 128 px, not below."""
    cfg = compose("train", [f"model/loss={option}"], root=tmp_path)
    module = build(cfg.model, _convert_="all", identities=["a", "b"],
                   net={**OmegaConf.to_container(cfg.model.net), "resolution": 16})
    assert module.loss.weights == LossWeights(**cfg.model.loss)
    image, mask = torch.rand(2, 1, 3, 128, 128, generator=torch.Generator().manual_seed(0)), torch.ones(1, 1, 128, 128)
    assert ("ms_ssim" in module.loss(image[0], image[1], mask)) == (cfg.model.loss.ms_ssim > 0)
    assert "ms_ssim" not in module.loss(image[0, ..., :64, :64], image[1, ..., :64, :64], mask[..., :64, :64])


@pytest.mark.parametrize("option", options("trainer"))
def test_trainer_options_build(tmp_path, option, compose):
    cfg = compose("train", [f"trainer={option}"], root=tmp_path)
    assert cfg.trainer.gradient_clip_val == 1.0 and cfg.trainer.use_distributed_sampler is False  # from default
    if cfg.trainer.accelerator == "gpu" and not torch.cuda.is_available():
        pytest.skip("a GPU trainer builds only where torch sees a GPU (its values are checked above)")
    from fusion.hardware import trainer_precision

    precision = trainer_precision(cfg.trainer.precision, cfg.trainer.accelerator)
    trainer = build(cfg.trainer, logger=False, enable_checkpointing=False, precision=precision)
    assert trainer.world_size == (2 if option == "ddp_cpu" else 1)


@pytest.mark.parametrize("option", options("logger"))
def test_logger_options_build(tmp_path, monkeypatch, option, compose):
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = compose("train", [f"logger={option}"], root=tmp_path)
    logger = build(cfg.logger) if cfg.get("logger") else None
    assert (logger is None) == (option == "none")


@pytest.mark.parametrize("option", options("experiment"))
def test_experiments_compose_and_plan(tmp_path, option, compose):
    cfg = compose("train", [f"experiment={option}"], root=tmp_path)
    assert cfg.task_name == option and phases(OmegaConf.to_object(cfg.curriculum))
    assert build(cfg.crop).landmarks == "auto"


@pytest.mark.parametrize("group", ["cache", "curriculum", "data", "model", "model/loss", "trainer", "logger",
                                   "experiment"])
def test_every_option_holds_only_keys_its_schema_or_target_takes(tmp_path, group, compose):
    for option in options(group):
        refuse_unknown_keys(compose("train", [f"{group}={option}"], root=tmp_path))


@pytest.mark.parametrize("name, override, start", [
    ("train", "+crop.resoluton=64",
     "crop.resoluton is not a setting of crop (did you mean crop.resolution?); valid: resolution, face_scale, "),
    ("train", "+curriculum.stages.0.lrr=1e-4",
     "curriculum.stages[0].lrr is not a setting of curriculum.stages[0] (did you mean curriculum.stages[0].lr?)"),
    ("train", "+data.footage_dir=x", "data.footage_dir is not a setting of data (did you mean data.footage?)"),
    ("swap", "+presicion=bf16", "presicion is not a setting (did you mean precision?); valid: frames, colorspace, "
                                "ocio_config, landmarks, jitter, smooth_window, device, precision, "),
])
def test_a_key_taken_up_with_plus_that_nothing_takes_is_refused_with_the_valid_keys(name, override, start, compose):
    """Hydra suggests `+key=value` for a key a config lacks; for a typo that key is refused, not passed on
    (a bare TypeError) or dropped."""
    with pytest.raises(ConfigError, match="^" + re.escape(start)):
        refuse_unknown_keys(compose(name, REQUIRED.get(name, []) + [override]))


def test_build_and_to_schema_refuse_an_unknown_key(compose):
    with pytest.raises(ConfigError, match="crop.resoluton is not a setting of crop"):
        build(compose("prepare", ["+crop.resoluton=64"]).crop)
    with pytest.raises(ConfigError, match="presicion is not a setting"):
        to_schema(compose("swap", REQUIRED["swap"] + ["+presicion=bf16"]), SwapConfig)
