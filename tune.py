"""A checkpoint's encoder tuned on one shot: `python tune.py checkpoint=... actor=... shot=...`."""

import sys

import hydra
from omegaconf import DictConfig

from fusion.config import register_configs
from fusion.config.schemas import TuneConfig
from fusion.errors import UserError
from fusion.instantiate import to_schema
from fusion.tune.shot import tune_shot

register_configs()


@hydra.main(version_base="1.3", config_path="fusion/conf", config_name="tune")
def main(cfg: DictConfig) -> None:
    """Compose the tune config, tune and save the encoder; a UserError is one line and exit 2."""
    try:
        options = to_schema(cfg, TuneConfig)
        result = tune_shot(options.checkpoint, options.shot, options.actor, options, options.out, options.overwrite,
                           options.work)
    except (UserError, FileNotFoundError) as error:
        print(f"tune failed: {error}", file=sys.stderr)
        sys.exit(2)
    print("\n".join(result.summary(options.actor, options.checkpoint, options.shot)))


if __name__ == "__main__":
    main()
