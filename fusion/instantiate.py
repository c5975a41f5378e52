"""From a composed config to objects: Hydra's `instantiate`, and a config as its schema's dataclass.

Hydra wraps every exception from a `_target_`'s constructor in its own
InstantiationException, whose message buries ours under a traceback-like
preamble; the entry points print UserErrors as one clear line instead.
"""

from dataclasses import fields
from typing import TypeVar

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning.pytorch.utilities.exceptions import MisconfigurationException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from fusion.errors import ConfigError, UserError


def build(node: DictConfig, **kwargs):
    """`instantiate(node, **kwargs)`; a UserError, missing file or Lightning misconfiguration comes out as one."""
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as error:
        cause = error.__cause__
        if isinstance(cause, (UserError, FileNotFoundError)):
            raise cause from None
        if isinstance(cause, MisconfigurationException):
            raise ConfigError(f"{node.get('_target_')}: {cause}") from None
        raise


Schema = TypeVar("Schema")


def to_schema(cfg: DictConfig, schema: type[Schema]) -> Schema:
    """The composed config as an instance of its registered `schema` dataclass (whose `__post_init__` checks
    it). `paths` stays behind: it resolves only inside a Hydra run, and the options do not use it."""
    value = lambda node: OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
    try:
        return schema(**{f.name: value(cfg[f.name]) for f in fields(schema) if f.name != "paths"})
    except MissingMandatoryValue as error:
        raise ConfigError(f"{error.full_key} is required: give {error.full_key}=...") from None
