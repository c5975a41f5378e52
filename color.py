"""A checkpoint's colour-harmonisation LUT network (image-adaptive 3D LUT): `python color.py checkpoint=...`."""

import sys

import hydra
from omegaconf import DictConfig

from fusion.colour.fit import fit_color
from fusion.config import register_configs
from fusion.config.schemas import ColorCommandConfig
from fusion.errors import UserError
from fusion.instantiate import to_schema

register_configs()


@hydra.main(version_base="1.3", config_path="fusion/conf", config_name="color")
def main(cfg: DictConfig) -> None:
    """Compose the color config, train the LUT network and write the checkpoint with it; a UserError is one line
    and exit 2."""
    try:
        options = to_schema(cfg, ColorCommandConfig)
        result = fit_color(options.checkpoint, options.cache_folder, options, options.out, options.overwrite,
                           cache_dir=cfg.paths.cache_dir)
    except (UserError, FileNotFoundError) as error:
        print(f"color failed: {error}", file=sys.stderr)
        sys.exit(2)
    print("\n".join(result.summary()))


if __name__ == "__main__":
    main()
