"""`fusion-export` (`python export.py` in a checkout): one identity's face model for Nuke or Flame."""

from pathlib import Path

from omegaconf import DictConfig

from fusion.commands.command import Command, launch
from fusion.config.schemas import ExportConfig


def run(options: ExportConfig, cfg: DictConfig) -> list[Path]:
    """The model file and its sidecar; the exporter (torch) loads here, so `--help` or a refused command line
    never waits for it."""
    from fusion.export.write import export_model
    return export_model(options.checkpoint, options.identity, options.format, options.output, options.overwrite,
                        options.opset)


def summary(written: list[Path], options: ExportConfig) -> list[str]:
    """The closing lines (`export_summary`, beside the exporter)."""
    from fusion.export.write import export_summary
    return export_summary(options.identity, *written)


EXPORT = Command("export", schema=ExportConfig, run=run, summary=summary)


def main() -> None:
    """`fusion-export checkpoint=... identity=... format=onnx|torchscript [output=...]`."""
    launch(EXPORT)
