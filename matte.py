"""A checkpoint's occlusion-aware face matte, learned semi-supervised: `python matte.py checkpoint=...`."""

import sys

import hydra
from omegaconf import DictConfig

from fusion.config import register_configs
from fusion.config.schemas import MatteCommandConfig
from fusion.errors import UserError
from fusion.instantiate import to_schema
from fusion.occlusion.fit import fit_matte

register_configs()


@hydra.main(version_base="1.3", config_path="fusion/conf", config_name="matte")
def main(cfg: DictConfig) -> None:
    """Compose the matte config, train the matte and write the checkpoint with it; a UserError is one line and
    exit 2."""
    try:
        options = to_schema(cfg, MatteCommandConfig)
        result = fit_matte(options.checkpoint, options.cache_folder, options, options.out, options.overwrite,
                           cache_dir=cfg.paths.cache_dir)
    except (UserError, FileNotFoundError) as error:
        print(f"matte failed: {error}", file=sys.stderr)
        sys.exit(2)
    print("\n".join(result.summary()))


if __name__ == "__main__":
    main()
