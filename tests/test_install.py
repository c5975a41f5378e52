"""fusion installed, not from a checkout: every command has its script, config and checkout shim, and after
`pip install .` (not editable) into a fresh virtual environment the commands run from any folder, with the
configs inside the package, writing under the folder they run from."""

import importlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from fusion.config import CONF

REPO = Path(__file__).resolve().parents[1]
COMMANDS = ("train", "prepare", "swap", "evaluate", "coverage", "tune", "matte", "color", "export")
#: Each command's checkout shim: its name, but for a name a library imports (numba, under face-alignment, imports
#: `coverage` where it is installed; a checkout's coverage.py came first on the path and broke it).
SHIMS = {**{name: f"{name}.py" for name in COMMANDS}, "coverage": "coverage_report.py"}
#: Top-level names that libraries fusion runs import where they are installed, though none of fusion's
#: dependencies installs them.
IMPORTED_IF_PRESENT = {"coverage"}
#: Without PYTHONPATH, which would put a checkout ahead of the installed package.
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


def test_every_command_has_a_script_a_config_and_a_checkout_shim():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 on
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {f"fusion-{name}": f"fusion.commands.{name}:main" for name in COMMANDS}
    for name in COMMANDS:
        command = getattr(importlib.import_module(f"fusion.commands.{name}"), name.upper())
        assert command.name == name and (CONF / f"{name}.yaml").is_file()
        assert f"from fusion.commands.{name} import main\n" in (REPO / SHIMS[name]).read_text()


def test_no_checkout_script_shadows_a_module_a_library_imports():
    """`python swap.py` puts the checkout first on the path: a root script named like a module would be
    imported in its place."""
    taken = set(sys.stdlib_module_names) | set(importlib.metadata.packages_distributions()) | IMPORTED_IF_PRESENT
    assert sorted(p.stem for p in REPO.glob("*.py") if p.stem in taken) == []


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The bin/ folder of a virtual environment with fusion installed from a copy of this checkout. The
    environment sees this interpreter's packages (torch and the rest are not installed again), its pip and
    its setuptools (a pip of its own would bring an older setuptools that cannot build a wheel)."""
    root = tmp_path_factory.mktemp("install")
    source = root / "source"  # a copy: a build leaves build/ and fusion.egg-info beside the sources
    shutil.copytree(REPO / "fusion", source / "fusion", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", root / "venv"],
                   check=True)
    subprocess.run([root / "venv" / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", source], check=True, env=ENV, timeout=300)
    return root / "venv" / "bin"


def run(bin_dir: Path, command: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([bin_dir / f"fusion-{command}", *args], cwd=cwd, env=ENV, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.slow
def test_the_installed_package_holds_every_config_and_each_command_composes_its_own(installed, tmp_path):
    found = subprocess.run([installed / "python", "-c", "import fusion.config; print(fusion.config.CONF)"],
                           cwd=tmp_path, env=ENV, capture_output=True, text=True, check=True)
    conf = Path(found.stdout.strip())
    assert conf.is_relative_to(installed.parent)  # the installed copy, not this checkout
    assert sorted(p.relative_to(conf) for p in conf.rglob("*.yaml")) == sorted(p.relative_to(CONF)
                                                                               for p in CONF.rglob("*.yaml"))
    helps = {name: subprocess.Popen([installed / f"fusion-{name}", "--help"], cwd=tmp_path, env=ENV,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in COMMANDS}  # side by side: eight interpreters starting one after another take a while
    for name, process in helps.items():
        stdout, stderr = process.communicate(timeout=600)
        assert process.returncode == 0 and stdout.startswith(f"{name} is powered by Hydra"), stderr
    assert not list(tmp_path.iterdir())  # --help runs nothing


@pytest.mark.slow
def test_a_swap_of_a_missing_plate_is_one_line_and_exit_2_with_its_run_folder_here(installed, tmp_path):
    result = run(installed, "swap", "checkpoint=model.ckpt", "identity=a", "input=plate.mov", "output=out.mov",
                 cwd=tmp_path)
    assert (result.returncode, result.stderr) == (2, "swap failed: plate.mov does not exist\n")
    assert len(list(tmp_path.glob("outputs/swap/*/swap.log"))) == 1


@pytest.mark.slow
def test_train_composes_with_its_demo_footage_and_outputs_under_the_folder_it_runs_from(installed, tmp_path):
    result = run(installed, "train", "--cfg", "job", "--resolve", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    cfg = OmegaConf.create(result.stdout)
    assert (cfg.data.demo_footage, cfg.paths.output_dir, cfg.paths.cache_dir) == (
        "./data/demo/footage", "./outputs", "./data/cache")


@pytest.mark.slow
def test_prepare_makes_the_demo_footage_and_its_cache_here_and_names_the_installed_train(installed, tmp_path):
    result = run(installed, "prepare", "crop.resolution=64", "crop.landmarks=dlib", "workers=1", "contact_sheet=0",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "data" / "demo" / "footage").iterdir()) == ["astronaut", "hopper"]
    assert len(list(tmp_path.glob("data/cache/64px_dlib_*/report.json"))) == 1
    assert "(fusion-prepare footage=PATH for yours)" in result.stdout
    assert result.stdout.splitlines()[-1] == ("next: fusion-train footage=data/demo/footage crop.resolution=64 "
                                              "crop.landmarks=dlib")
