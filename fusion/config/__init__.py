"""Structured configs (schemas) registered in Hydra's ConfigStore."""

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from fusion.config.schemas import (ColorCommandConfig, EvaluateConfig, ExportConfig, MatteCommandConfig, SwapConfig,
                                   TuneConfig)
from fusion.data.prepare_command import PrepareConfig
from fusion.training.run_folder import run_folder_name
from fusion.training.schedule import Curriculum


def register_configs() -> None:
    """Make the schemas available to `defaults` lists, and the run folder resolver to configs (idempotent)."""
    OmegaConf.register_new_resolver("fusion_run_name", run_folder_name, replace=True)
    store = ConfigStore.instance()
    store.store(name="prepare_schema", node=PrepareConfig)
    store.store(name="swap_schema", node=SwapConfig)
    store.store(name="evaluate_schema", node=EvaluateConfig)
    store.store(name="export_schema", node=ExportConfig)
    store.store(name="tune_schema", node=TuneConfig)
    store.store(name="matte_schema", node=MatteCommandConfig)
    store.store(name="color_schema", node=ColorCommandConfig)
    store.store(group="curriculum", name="schema", node=Curriculum)
