"""What `prepare` does with its config (`PrepareConfig`, `fusion.data.prepare_options`): the run (the demo
footage where none is given), and the result's closing lines: a table per identity, the problems, and the
train command that uses the cache."""

from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table
from rich.text import Text

from fusion.command_line import command_line
from fusion.data.cache import CropSettings, cache_location
from fusion.data.prepare import prepare
from fusion.data.prepare_options import PrepareConfig
from fusion.demo.footage import make_demo_footage
from fusion.instantiate import build


@dataclass
class PrepareResult:
    """What a prepare did: the footage it read, the crop settings (landmark backend resolved), the cache
    folder, and its report (as in the cache's report.json)."""

    footage: Path
    settings: CropSettings
    folder: Path
    report: dict

    def summary(self) -> list[str]:
        """The closing lines: per identity the frames read, faces kept, skips and notes (a table, in color on
        a terminal), each problem, where the report and contact sheets are, and, when a face was kept, the
        train command that finds this cache: what a user checks before training."""
        report = self.report
        table = Table(title=f"prepare: {report['footage']} -> {report['cache']}")
        for column in ("identity", "frames read", "faces kept", "skipped", "notes"):
            table.add_column(column)
        for name, r in report["identities"].items():
            table.add_row(name, str(r["frames_read"]), str(r["faces_kept"]),
                          ", ".join(f"{k}: {v}" for k, v in r["skipped"].items()) or "-",
                          ", ".join(f"{k}: {v}" for k, v in r["notes"].items()) or "-")
        console = Console()
        with console.capture() as captured:
            console.print(table)
            for r in report["identities"].values():
                for problem in r["problems"]:
                    console.print(Text(problem["message"], style="yellow"))
        lines = [*captured.get().splitlines(), f"report: {Path(report['cache']) / 'report.json'}; contact sheets: "
                 f"{report['cache']}/<identity>/contact_sheet.png"]
        if report["faces_kept"]:
            train = {"footage": self.footage, "crop.resolution": self.settings.resolution,
                     "crop.landmarks": self.settings.landmarks}
            if self.settings.working_space is not None:
                train["crop.working_space"] = self.settings.working_space
            lines.append(f"next: {command_line('train.py', train)}")
        return lines

    def fails(self) -> str | None:
        """Why the run failed though it finished: no usable face in any identity."""
        return None if self.report["faces_kept"] else "no usable face in any identity: nothing to train on"


def run_prepare(options: PrepareConfig, cfg: DictConfig) -> PrepareResult:
    """Prepare `options.footage` (the built-in demo footage where it is None, made under paths.data_dir) into
    the cache folder of the crop settings `cfg.crop`, or `options.cache_folder`."""
    settings = build(cfg.crop).resolved()
    folder = Path(options.cache_folder) if options.cache_folder else cache_location(options.cache_dir, settings)
    footage = options.footage
    if footage is None:
        footage = make_demo_footage(Path(cfg.paths.data_dir) / "demo" / "footage")
        yours = command_line("prepare.py", {"footage": "PATH"})
        print(f"no footage given: preparing the built-in demo footage in {footage} ({yours} for yours)", flush=True)
    report = prepare(footage, folder, settings, options, options.identities)
    return PrepareResult(Path(footage), settings, folder, report)
