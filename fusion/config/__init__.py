"""Structured configs (schemas) registered in Hydra's ConfigStore."""

from hydra.core.config_store import ConfigStore

from fusion.config.prepare import PrepareConfig


def register_configs() -> None:
    """Make the schemas available to `defaults` lists (idempotent)."""
    ConfigStore.instance().store(name="prepare_schema", node=PrepareConfig)
