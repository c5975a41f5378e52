"""One identity's face model for Nuke or Flame: `python export.py checkpoint=... identity=... format=...`."""

import sys

import hydra
from omegaconf import DictConfig

from fusion.config import register_configs
from fusion.config.schemas import ExportConfig
from fusion.errors import UserError
from fusion.export.write import export_model, export_summary
from fusion.instantiate import to_schema

register_configs()


@hydra.main(version_base="1.3", config_path="fusion/conf", config_name="export")
def main(cfg: DictConfig) -> None:
    """Compose the export config and write the model and its sidecar; a UserError is one line and exit 2."""
    try:
        options = to_schema(cfg, ExportConfig)
        model, sidecar = export_model(options.checkpoint, options.identity, options.format, options.output,
                                      options.overwrite, options.opset)
    except (UserError, FileNotFoundError) as error:
        print(f"export failed: {error}", file=sys.stderr)
        sys.exit(2)
    print("\n".join(export_summary(options.identity, model, sidecar)))


if __name__ == "__main__":
    main()
