"""Where the configs live (`CONF`), and the structured configs (schemas) registered in Hydra's ConfigStore.

`CONF` is fusion's own `conf/` folder, inside the package, so an installed
fusion composes the same configs as a checkout. Importing this package loads
neither Hydra nor the schemas (the GPU smoke check reads `CONF` where Hydra is
not installed); `register_configs` imports them.
"""

from pathlib import Path

#: The config folder: the commands' configs (train.yaml, swap.yaml, ...) and their groups.
CONF = Path(__file__).resolve().parents[1] / "conf"


def register_configs() -> None:
    """Make the schemas available to `defaults` lists, and the run folder resolver to configs (idempotent)."""
    from dataclasses import asdict

    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    from fusion.config.schemas import (ColorCommandConfig, CoverageConfig, EvaluateConfig, ExportConfig,
                                       MatteCommandConfig, SwapConfig, TuneConfig)
    from fusion.data.cache import CropSettings
    from fusion.data.prepare_options import PrepareConfig
    from fusion.io.plate import shot_name
    from fusion.training.run_folder import run_folder_name
    from fusion.training.schedule import Curriculum

    OmegaConf.register_new_resolver("fusion_run_name", run_folder_name, replace=True)
    OmegaConf.register_new_resolver("fusion_shot", shot_name, replace=True)
    store = ConfigStore.instance()
    store.store(name="prepare_schema", node=PrepareConfig)
    store.store(name="swap_schema", node=SwapConfig)
    store.store(name="evaluate_schema", node=EvaluateConfig)
    store.store(name="coverage_schema", node=CoverageConfig)
    store.store(name="export_schema", node=ExportConfig)
    store.store(name="tune_schema", node=TuneConfig)
    store.store(name="matte_schema", node=MatteCommandConfig)
    store.store(name="color_schema", node=ColorCommandConfig)
    store.store(group="curriculum", name="schema", node=Curriculum)
    store.store(group="crop", name="schema", node={"_target_": "fusion.data.cache.CropSettings",
                                                    **asdict(CropSettings())})
