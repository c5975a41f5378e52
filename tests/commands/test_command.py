"""One wrapper for every command (`fusion.commands.command.execute`): closing lines and exit 0; a user's
mistake in one line and exit 2; a stop, or a result that fails, in one line and exit 1; a bug's traceback."""

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from fusion.commands.command import Command, execute
from fusion.errors import ConfigError, RunStopped


def raising(error: BaseException):
    """A command's run that fails with `error`."""
    def run(options, cfg):
        raise error
    return run


DOUBLE = Command("double", run=lambda options, cfg: options.n * 2,
                 summary=lambda result, options: [f"got {result}", "next: more"])


def test_a_result_prints_its_closing_lines_and_exits_0(capsys):
    assert execute(DOUBLE, OmegaConf.create({"n": 21})) == 0
    assert capsys.readouterr() == ("got 42\nnext: more\n", "")


def test_a_result_that_fails_prints_its_lines_then_why_and_exits_1(capsys):
    command = Command("count", run=lambda options, cfg: 0, summary=lambda result, options: [f"{result} kept"],
                      fails=lambda result: None if result else "nothing kept")
    assert execute(command, OmegaConf.create({})) == 1
    assert capsys.readouterr() == ("0 kept\n", "nothing kept\n")


@pytest.mark.parametrize("error", [ConfigError("steps=-1: give a positive number"),
                                   FileNotFoundError("plate.mov does not exist")])
def test_a_users_mistake_is_one_line_naming_the_command_and_exit_2(error, capsys):
    command = Command("tune", run=raising(error), summary=lambda result, options: ["never printed"])
    assert execute(command, OmegaConf.create({})) == 2
    assert capsys.readouterr() == ("", f"tune failed: {error}\n")


def test_a_stop_on_a_signal_is_one_line_and_exit_1(capsys):
    stop = RunStopped("stopped at step 12 on SIGINT; resume with ckpt_path=last")
    command = Command("train", run=raising(stop), summary=lambda result, options: ["never printed"])
    assert execute(command, OmegaConf.create({})) == 1
    assert capsys.readouterr() == ("", "train stopped at step 12 on SIGINT; resume with ckpt_path=last\n")


def test_a_bug_keeps_its_traceback():
    command = Command("swap", run=raising(ZeroDivisionError("division by zero")), summary=lambda r, o: [])
    with pytest.raises(ZeroDivisionError):
        execute(command, OmegaConf.create({}))


@dataclass
class Steps:
    steps: int = 10

    def __post_init__(self):
        if self.steps < 1:
            raise ConfigError(f"steps={self.steps}: give at least 1")


def test_the_options_are_the_schema_checked_before_the_run(capsys):
    command = Command("tune", schema=Steps, run=lambda options, cfg: options.steps,
                      summary=lambda result, options: [f"{result} steps, an instance of {type(options).__name__}"])
    assert execute(command, OmegaConf.structured(Steps(steps=3))) == 0
    assert capsys.readouterr().out == "3 steps, an instance of Steps\n"
    cfg = OmegaConf.structured(Steps)
    cfg.steps = 0
    assert execute(command, cfg) == 2
    assert capsys.readouterr() == ("", "tune failed: steps=0: give at least 1\n")


def test_a_mistyped_key_is_refused_before_any_work(compose, capsys):
    from fusion.commands.swap import SWAP

    cfg = compose("swap", ["checkpoint=x.ckpt", "identity=a", "input=in.mp4", "output=out.mp4", "+presicion=bf16"])
    assert execute(SWAP, cfg) == 2
    assert capsys.readouterr().err.startswith("swap failed: presicion is not a setting (did you mean precision?)")


REPO = Path(__file__).resolve().parents[2]
COMMANDS = ["train", "prepare", "swap", "evaluate", "coverage", "tune", "matte", "color", "export"]
#: Printed as the interpreter exits: which of torch and Lightning (~2 s with torch's compiler) were loaded.
LOADED = ("import atexit, sys\n"
          "atexit.register(lambda: print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'lightning'))))\n")


def loaded_after(script: str, *args: str) -> tuple[subprocess.CompletedProcess, str]:
    """`script` run with `args` in a fresh interpreter in the checkout, and the torch and Lightning modules it loaded."""
    result = subprocess.run([sys.executable, "-c", LOADED + script, *args], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    return result, result.stdout.strip().splitlines()[-1]


def test_every_command_loads_without_torch():
    """torch (and Lightning) load only when a command runs its package function: importing a command and
    registering the schemas, all `launch` does before Hydra reads the command line, loads neither."""
    result, loaded = loaded_after(f"import {', '.join(f'fusion.commands.{name}' for name in COMMANDS)}\n"
                                  "from fusion.config import register_configs\nregister_configs()")
    assert result.returncode == 0, result.stderr[-2000:]
    assert loaded == "[]"


@pytest.mark.parametrize("args", [["--help"], ["checkpoint=x.ckpt", "identity=a", "input=in.mp4", "output=out.mp4",
                                               "blend=fast"]], ids=["help", "refused"])
def test_help_and_a_refused_command_line_load_without_torch(args, tmp_path):
    """`swap.py --help`, and a command line its schema refuses (exit 2), are answered before torch loads."""
    result, loaded = loaded_after("from fusion.commands.swap import main\nsys.argv[0] = 'swap.py'\nmain()", *args,
                                  f"paths.root_dir={tmp_path}")
    assert result.returncode == (2 if "blend=fast" in args else 0), result.stderr[-2000:]
    assert loaded == "[]"
