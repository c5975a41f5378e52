"""Every config group composes and every `_target_` in it builds (as lightning-hydra-template's tests do)."""

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from fusion.config import register_configs
from fusion.data.cache import CacheSettings
from fusion.instantiate import build
from fusion.training.schedule import phases

CONF = Path(__file__).resolve().parents[1] / "conf"


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml") if p.stem != "default" or group == "cache")


def compose_train(tmp_path: Path, overrides: list[str]):
    register_configs()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("train", overrides=[f"paths.root_dir={tmp_path}", f"paths.run_dir={tmp_path / 'run'}",
                                           *overrides], return_hydra_config=False)


@pytest.mark.parametrize("name", ["prepare", "swap", "evaluate"])
def test_every_entry_point_composes(name):
    register_configs()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose(name, overrides=["checkpoint=x.ckpt", "identity=a", "input=in.mp4", "output=out.mp4"]
                      if name == "swap" else ["checkpoint=x.ckpt", "cache_folder=c"] if name == "evaluate" else [])
    if name == "prepare":
        assert isinstance(build(cfg.cache), CacheSettings)


@pytest.mark.parametrize("option", options("cache"))
def test_cache_options_build(tmp_path, option):
    settings = build(compose_train(tmp_path, [f"cache={option}"]).cache)
    assert isinstance(settings, CacheSettings) and settings.resolution >= 16


@pytest.mark.parametrize("option", options("curriculum"))
def test_curricula_are_valid(tmp_path, option):
    plan = phases(OmegaConf.to_object(compose_train(tmp_path, [f"curriculum={option}"]).curriculum))
    assert plan[0].resolution == 16 and plan[-1].name in ("B", "finetune")


@pytest.mark.parametrize("option", options("data"))
def test_data_options_build(tmp_path, photos, option):
    for identity in ("a", "b"):
        (tmp_path / "footage" / identity).mkdir(parents=True)
    datamodule = build(compose_train(tmp_path, [f"data={option}", f"footage={tmp_path / 'footage'}"]).data,
                       _convert_="all")
    assert datamodule.identities == ["a", "b"] and datamodule.cache.parent == tmp_path / "data" / "cache"


@pytest.mark.parametrize("option", options("model"))
def test_model_options_build(tmp_path, option):
    cfg = compose_train(tmp_path, [f"model={option}"])
    module = build(cfg.model, _convert_="all", identities=["a", "b"],
                   net={**OmegaConf.to_container(cfg.model.net), "resolution": 16})
    assert module.net.output_resolution == 16 and len(module.net.decoders) == 2


@pytest.mark.parametrize("option", options("trainer"))
def test_trainer_options_build(tmp_path, option):
    cfg = compose_train(tmp_path, [f"trainer={option}"])
    assert cfg.trainer.gradient_clip_val == 1.0 and cfg.trainer.use_distributed_sampler is False  # from default
    if cfg.trainer.accelerator == "gpu" and not torch.cuda.is_available():
        pytest.skip("a GPU trainer builds only where torch sees a GPU (its values are checked above)")
    from fusion.hardware import trainer_precision

    precision = trainer_precision(cfg.trainer.precision, cfg.trainer.accelerator)
    trainer = build(cfg.trainer, logger=False, enable_checkpointing=False, precision=precision)
    assert trainer.world_size == (2 if option == "ddp_cpu" else 1)


@pytest.mark.parametrize("option", options("logger"))
def test_logger_options_build(tmp_path, monkeypatch, option):
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = compose_train(tmp_path, [f"logger={option}"])
    logger = build(cfg.logger) if cfg.get("logger") else None
    assert (logger is None) == (option == "none")


@pytest.mark.parametrize("option", options("experiment"))
def test_experiments_compose_and_plan(tmp_path, option):
    cfg = compose_train(tmp_path, [f"experiment={option}"])
    assert cfg.task_name == option and phases(OmegaConf.to_object(cfg.curriculum))
    assert build(cfg.cache).landmarks == "auto"
