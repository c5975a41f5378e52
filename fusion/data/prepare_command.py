"""What `python prepare.py` does with its config: its schema, then run, summarise, pick an exit code."""

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table

from fusion.command_line import command_line
from fusion.data.cache import CacheSettings, cache_location
from fusion.data.prepare import PrepareOptions, prepare
from fusion.demo.footage import make_demo_footage
from fusion.errors import UserError
from fusion.instantiate import build, to_schema

log = logging.getLogger(__name__)


@dataclass
class PrepareConfig(PrepareOptions):
    """`prepare.py`: footage in, the cache of the `cache` settings out."""

    paths: Any = field(default_factory=dict)
    cache: Any = field(default_factory=dict)
    #: footage/<identity>/ folders; null prepares the built-in demo footage.
    footage: Optional[str] = None
    cache_dir: str = "${paths.cache_dir}"
    cache_folder: Optional[str] = None
    #: identity names to prepare; null prepares every folder under footage.
    identities: Optional[list[str]] = None


def settings_from_config(cfg: DictConfig) -> tuple[CacheSettings, PrepareConfig, Path]:
    """The crop settings (landmark backend resolved), the run options, and the cache folder they name."""
    settings = build(cfg.cache).resolved()
    options = to_schema(cfg, PrepareConfig)  # the PrepareOptions plus where from and to
    folder = Path(options.cache_folder) if options.cache_folder else cache_location(options.cache_dir, settings)
    return settings, options, folder


def print_summary(report: dict, console: Console) -> None:
    """Print per identity the frames read, faces kept, skips and notes, then each problem and where the
    report and contact sheets are: what a user checks before training.
    """
    table = Table(title=f"prepare: {report['footage']} -> {report['cache']}")
    for column in ("identity", "frames read", "faces kept", "skipped", "notes"):
        table.add_column(column)
    for name, r in report["identities"].items():
        table.add_row(name, str(r["frames_read"]), str(r["faces_kept"]),
                      ", ".join(f"{k}: {v}" for k, v in r["skipped"].items()) or "-",
                      ", ".join(f"{k}: {v}" for k, v in r["notes"].items()) or "-")
    console.print(table)
    for r in report["identities"].values():
        for problem in r["problems"]:
            console.print(f"[yellow]{problem['message']}[/yellow]", highlight=False)
    console.print(f"report: {Path(report['cache']) / 'report.json'}; contact sheets: {report['cache']}/<identity>/contact_sheet.png")


def run_prepare(cfg: DictConfig) -> int:
    """Exit code 0 when at least one face was cached, 1 when none, 2 on a setup error."""
    console, errors = Console(), Console(stderr=True)
    try:
        settings, options, folder = settings_from_config(cfg)
        footage = options.footage
        if footage is None:
            footage = make_demo_footage(Path(cfg.paths.data_dir) / "demo" / "footage")
            console.print(f"no footage given: preparing the built-in demo footage in {footage} "
                          "(python prepare.py footage=PATH for yours)")
        report = prepare(footage, folder, settings, options, options.identities)
    except (UserError, FileNotFoundError) as error:
        errors.print(f"[red]prepare failed:[/red] {error}", highlight=False)
        return 2
    print_summary(report, console)
    if report["faces_kept"] == 0:
        errors.print("[red]no usable face in any identity: nothing to train on[/red]")
        return 1
    train = {"footage": footage, "cache.resolution": settings.resolution, "cache.landmarks": settings.landmarks}
    console.print(f"next: {command_line('train.py', train)}", markup=False, highlight=False, soft_wrap=True)
    return 0
