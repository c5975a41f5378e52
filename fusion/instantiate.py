"""Hydra's `instantiate`, with a user's mistake raised as itself.

Hydra wraps every exception from a `_target_`'s constructor in its own
InstantiationException, whose message buries ours under a traceback-like
preamble; the entry points print UserErrors as one clear line instead.
"""

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning.pytorch.utilities.exceptions import MisconfigurationException
from omegaconf import DictConfig

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
