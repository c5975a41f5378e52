"""A checkpoint's encoder tuned on one shot: `python tune.py checkpoint=... actor=... shot=...`."""

import sys

import hydra
from omegaconf import DictConfig

from fusion.config import register_configs
from fusion.command_line import command_line
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
    print(f"{options.actor}'s held-out frames of the shot ({result.frames_held_out}; tuned on {result.frames_tuned}): "
          f"masked SSIM {result.ssim_before:.3f} -> {result.ssim_after:.3f}")
    swap = command_line("swap.py", {"checkpoint": options.checkpoint, "input": options.shot, "tuning": result.path})
    print(f"tuned encoder: {result.path}\nswap with it: {swap} identity=<whose face> output=<file>")


if __name__ == "__main__":
    main()
