"""Failures a user causes and can fix: each message names the file or key and the fix; and a run stopped by a signal.

Every command (`fusion.commands.command.execute`) prints a `UserError` as one
line and exits with status 2, a `RunStopped` as one line with status 1;
anything else is a bug and keeps its traceback.
"""

from typing import Iterable


class RunStopped(RuntimeError):
    """The run stopped on a signal and saved `last.ckpt`; resuming from it continues where it stopped."""


class UserError(Exception):
    """A bad input, setting or environment, with a message that says what to do."""


class ConfigError(UserError, ValueError):
    """A configuration value that cannot work (named by its key, with a valid value)."""


class CheckpointError(UserError, ValueError):
    """A checkpoint that is missing, unreadable, foreign, or unsafe to load."""


class OutputError(UserError, ValueError):
    """An output that would overwrite an input, or a previous output without `overwrite=true`."""


class WriteError(UserError, OSError):
    """A write that failed (the encoder failed, the disk is full); nothing was replaced."""


class DiskFullError(WriteError):
    """The filesystem ran out of space; the message gives the path and the space needed."""


def check_choice(key: str, value: object, choices: Iterable[object], fix: str = "") -> None:
    """Raise ConfigError unless `value` is one of `choices`: `<key>=<value>: choose one of <choices>[ (<fix>)]`.

    The one check of an allowed value: the message names the key a user sets and what would work.

    >>> check_choice("blend", "alpha", ("multiband", "alpha"))
    >>> check_choice("blend", "soft", ("multiband", "alpha"))
    Traceback (most recent call last):
    ...
    fusion.errors.ConfigError: blend=soft: choose one of multiband, alpha
    """
    choices = tuple(choices)
    if value not in choices:
        hint = f" ({fix})" if fix else ""
        raise ConfigError(f"{key}={value}: choose one of {', '.join(map(str, choices))}{hint}")


def refuse_bad_values(settings: object, problems: dict[str, tuple[bool, str]], prefix: str = "") -> None:
    """Raise ConfigError for the first `key: (is_bad, fix)` in `problems` that is bad, as
    `<prefix><key>=<its value in settings>: <fix>`: the key a user sets, its value, and what would work."""
    for key, (bad, fix) in problems.items():
        if bad:
            raise ConfigError(f"{prefix}{key}={getattr(settings, key)}: {fix}")
