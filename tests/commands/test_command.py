"""One wrapper for every command (`fusion.commands.command.execute`): closing lines and exit 0; a user's
mistake in one line and exit 2; a stop, or a result that fails, in one line and exit 1; a bug's traceback."""

import subprocess
import sys
from dataclasses import dataclass

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


def test_commands_that_never_train_load_without_lightning():
    """Lightning (with torch's compiler, ~2 s) loads only for training: a swap's or an evaluation's
    refusal comes that much sooner, and the suite's many command runs start that much faster."""
    commands = ["swap", "evaluate", "export", "coverage", "tune", "matte", "color", "prepare"]
    script = (f"import sys\nimport {', '.join(f'fusion.commands.{name}' for name in commands)}\n"
              "print(sorted(m for m in sys.modules if m == 'lightning' or m.startswith('lightning.')))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
