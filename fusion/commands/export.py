"""`fusion-export` (`python export.py` in a checkout): one identity's face model for Nuke or Flame."""

from fusion.commands.command import Command, launch
from fusion.config.schemas import ExportConfig
from fusion.export.write import export_model, export_summary

EXPORT = Command("export", schema=ExportConfig,
                 run=lambda o, _: export_model(o.checkpoint, o.identity, o.format, o.output, o.overwrite, o.opset),
                 summary=lambda written, o: export_summary(o.identity, *written))


def main() -> None:
    """`fusion-export checkpoint=... identity=... format=onnx|torchscript [output=...]`."""
    launch(EXPORT)
