"""One wrapper for every command: compose, refuse unknown keys, read the schema, run, print the result.

As lightning-hydra-template's `task_wrapper`, the glue is written once. A
command's exit status says how it ended:

- 0: done; its closing lines printed;
- 1: it ended short of its aim, in one line on stderr: stopped by a signal
  (training saves first and says how to resume) or a result that `fails`
  (prepare kept no face);
- 2: a user's mistake (a `UserError`, a missing file): `<command> failed: <why>`, one line on stderr.

Anything else is a bug and keeps its traceback.
"""

import sys
from dataclasses import dataclass
from typing import Any, Callable

import hydra
from omegaconf import DictConfig

from fusion.config import CONF, register_configs
from fusion.errors import RunStopped, UserError
from fusion.instantiate import refuse_unknown_keys, to_schema


@dataclass(frozen=True)
class Command:
    """What `execute` needs to run one command."""

    #: its config (fusion/conf/<name>.yaml), run folder (outputs/<name>/) and the start of its failure line
    name: str
    #: the package function: (options, composed config) -> result; the config for `paths`, which resolve
    #: only inside a Hydra run, and for groups built from it
    run: Callable[[Any, DictConfig], Any]
    #: the closing lines: (result, options) -> lines
    summary: Callable[[Any, Any], list[str]]
    #: the dataclass the config is read as (`to_schema`: its checks run); None: the options are the config
    schema: type | None = None
    #: why a result that came back is still a failure (exit 1), or None
    fails: Callable[[Any], str | None] = lambda result: None


def execute(command: Command, cfg: DictConfig) -> int:
    """Run `command` on its composed `cfg` and print how it ended; return its exit status (module docstring)."""
    try:
        refuse_unknown_keys(cfg)  # a mistyped +key, before any work
        options = cfg if command.schema is None else to_schema(cfg, command.schema)
        result = command.run(options, cfg)
    except (UserError, FileNotFoundError) as error:
        print(f"{command.name} failed: {error}", file=sys.stderr)
        return 2
    except RunStopped as stop:
        print(f"{command.name} {stop}", file=sys.stderr)
        return 1
    print("\n".join(command.summary(result, options)))
    failure = command.fails(result)
    if failure:
        print(failure, file=sys.stderr)
        return 1
    return 0


def launch(command: Command) -> None:
    """Run `command` as an entry point: Hydra reads the command line (overrides, --help, --cfg, -m) and
    composes fusion/conf/<name>.yaml, wherever it is run from; exit with `execute`'s status (a success
    returns, so a sweep's next job runs)."""
    register_configs()

    @hydra.main(version_base="1.3", config_path=str(CONF), config_name=command.name)
    def entry(cfg: DictConfig) -> None:
        status = execute(command, cfg)
        if status:
            sys.exit(status)

    entry()
