"""From a composed config to objects: Hydra's `instantiate`, and a config as its schema's dataclass.

Hydra wraps every exception from a `_target_`'s constructor in its own
InstantiationException, whose message buries ours under a traceback-like
preamble; the entry points print UserErrors as one clear line instead.

Hydra refuses an override of a key a config does not have, and suggests
appending it with `+key=value`; taken up for a typo, that key would reach a
constructor as an unexpected argument (a bare TypeError) or be dropped
without a word. `refuse_unknown_keys` names it, with the keys that exist.
"""

import difflib
import inspect
import pydoc
import sys
from dataclasses import fields, is_dataclass
from typing import TypeVar

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from fusion.errors import ConfigError, UserError

#: Keys that Hydra's `instantiate` reads itself instead of passing them to the `_target_`.
INSTANTIATE_KEYS = ("_target_", "_convert_", "_recursive_", "_partial_", "_args_")
#: Parameter kinds that a config key can fill.
_BY_NAME = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def settings_of(node: DictConfig) -> list[str] | None:
    """The keys `node` may hold: its schema's fields (a structured config), or the arguments of its `_target_`;
    None where any key may do (a plain mapping, a target taking `**kwargs`, one that does not import: `build`
    reports that)."""
    schema = OmegaConf.get_type(node)
    if is_dataclass(schema):
        return [f.name for f in fields(schema)]
    target = node.get("_target_")
    try:
        made_by = pydoc.locate(target) if isinstance(target, str) else None
    except pydoc.ErrorDuringImport:
        return None
    if not callable(made_by):
        return None
    parameters = inspect.signature(made_by).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return [p.name for p in parameters if p.kind in _BY_NAME]


def unknown_key_message(full_key: str, valid: list[str]) -> str:
    """The refusal of `full_key`, a key its config does not have: the closest valid key, then all of them.

    >>> unknown_key_message("crop.resoluton", ["resolution", "face_scale"])
    'crop.resoluton is not a setting of crop (did you mean crop.resolution?); valid: resolution, face_scale'
    >>> unknown_key_message("fps2", ["fps", "preview"])
    'fps2 is not a setting (did you mean fps?); valid: fps, preview'
    """
    name = full_key.rsplit(".", 1)[-1]
    prefix = full_key[:len(full_key) - len(name)]
    close = difflib.get_close_matches(name, valid, n=1)
    where = f" of {prefix[:-1]}" if prefix else ""
    hint = f" (did you mean {prefix}{close[0]}?)" if close else ""
    return f"{full_key} is not a setting{where}{hint}; valid: {', '.join(valid)}"


def refuse_unknown_keys(node: DictConfig | ListConfig) -> None:
    """Raise ConfigError for the first key in `node`, or in a config below it, that its schema or `_target_`
    does not take (`settings_of`); interpolations are left to the nodes they point at."""
    if isinstance(node, DictConfig):
        valid = settings_of(node)
        unknown = [] if valid is None else [key for key in node.keys() if key not in (*valid, *INSTANTIATE_KEYS)]
        if unknown:
            raise ConfigError(unknown_key_message(node._get_full_key(unknown[0]), valid))
    for key in node.keys() if isinstance(node, DictConfig) else range(len(node)):
        child = node._get_node(key)
        if isinstance(child, (DictConfig, ListConfig)) and not (child._is_none() or child._is_missing()
                                                               or child._is_interpolation()):
            refuse_unknown_keys(child)


def build(node: DictConfig, **kwargs):
    """`instantiate(node, **kwargs)`; a key its target does not take, a UserError, missing file or Lightning
    misconfiguration comes out as a UserError."""
    refuse_unknown_keys(node)
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as error:
        cause = error.__cause__
        if isinstance(cause, (UserError, FileNotFoundError)):
            raise cause from None
        if isinstance(cause, _lightning_misconfiguration()):
            raise ConfigError(f"{node.get('_target_')}: {cause}") from None
        raise


def _lightning_misconfiguration() -> tuple[type, ...]:
    """Lightning's MisconfigurationException where Lightning is imported (only it raises one), else nothing: so
    commands that never train do not import Lightning (seconds) to read their config."""
    module = sys.modules.get("lightning.pytorch.utilities.exceptions")
    return (module.MisconfigurationException,) if module is not None else ()


Schema = TypeVar("Schema")


def to_schema(cfg: DictConfig, schema: type[Schema]) -> Schema:
    """The composed config as an instance of its registered `schema` dataclass (whose `__post_init__` checks
    it), after `refuse_unknown_keys`. `paths` stays behind: it resolves only inside a Hydra run, and the
    options do not use it."""
    refuse_unknown_keys(cfg)
    value = lambda node: OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
    try:
        return schema(**{f.name: value(cfg[f.name]) for f in fields(schema) if f.name != "paths"})
    except MissingMandatoryValue as error:
        raise ConfigError(f"{error.full_key} is required: give {error.full_key}=...") from None
