"""What `python prepare.py` does with its config: run, summarise, pick an exit code."""

import logging
from pathlib import Path

from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table

from fusion.data.cache import CacheSettings
from fusion.data.prepare import PrepareOptions, prepare
from fusion.demo.footage import make_demo_footage
from fusion.errors import UserError
from fusion.faces.landmarks import resolve_backend

log = logging.getLogger(__name__)


def settings_from_config(cfg: DictConfig) -> tuple[CacheSettings, PrepareOptions]:
    settings = CacheSettings(
        resolution=cfg.cache_resolution, face_scale=cfg.face_scale, alignment=cfg.alignment,
        mask_enlarge=cfg.mask_enlarge, landmarks=resolve_backend(cfg.landmarks), jitter=cfg.jitter,
        smooth_window=cfg.smooth_window)
    options = PrepareOptions(workers=cfg.workers, chunk=cfg.chunk, min_face_size=cfg.min_face_size,
                             max_outside=cfg.max_outside, detect_size=cfg.detect_size, contact_sheet=cfg.contact_sheet)
    return settings, options


def print_summary(report: dict, console: Console) -> None:
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
    footage = cfg.footage
    if footage is None:
        footage = make_demo_footage(Path(cfg.paths.data_dir) / "demo" / "footage")
        console.print(f"no footage given: preparing the built-in demo footage in {footage} (python prepare.py footage=PATH for yours)")
    try:
        settings, options = settings_from_config(cfg)
        report = prepare(footage, cfg.cache, settings, options, list(cfg.identities) if cfg.identities else None)
    except (UserError, FileNotFoundError) as error:
        errors.print(f"[red]prepare failed:[/red] {error}", highlight=False)
        return 2
    print_summary(report, console)
    if report["faces_kept"] == 0:
        errors.print("[red]no usable face in any identity: nothing to train on[/red]")
        return 1
    return 0
